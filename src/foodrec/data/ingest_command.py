"""``foodrec ingest``: validated ingest of order logs into a store (see ``docs/data.md``).

>>> from foodrec.cli import main
>>> main(["ingest", "runs/city", "--store", "runs/store"])           # doctest: +SKIP
0
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the foodrec CLI."""
    app.command("ingest")(ingest_command)


def ingest_command(
    sources: list[str] = typer.Argument(
        ...,
        help="CSV/Parquet files, DHRD files or folders, or a `foodrec generate` directory.",
        show_default=False,
        metavar="SOURCE",
    ),
    store: str = typer.Option(..., "--store", help="Store directory (created when missing).", metavar="DIR"),
    timezone: str | None = typer.Option(
        None,
        "--timezone",
        help="IANA zone for timestamps without one [default: city.json's, else the store's, else UTC].",
    ),
    column_map: str | None = typer.Option(
        None, "--map", help="Rename columns: ours=theirs,... (e.g. order_id=OrderNo,ordered_at=Time)."
    ),
    fmt: str = typer.Option("auto", "--format", help="auto | canonical | dhrd."),
    anchor_date: str | None = typer.Option(
        None, "--anchor-date", help="DHRD day 0 as YYYY-MM-DD [default: city.json's, else 2023-01-01]."
    ),
    json_out: str | None = typer.Option(None, "--json", help="Also write the summary JSON here."),
) -> None:
    """Read, validate, dedupe and store order logs; print what was accepted, quarantined and dropped."""
    json_tmp = _claim_json_path(Path(json_out)) if json_out else None  # fails before the store is touched
    try:
        summary = _run(sources, store, timezone, column_map, fmt, anchor_date)
        if json_tmp is not None:
            try:
                json_tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
                os.replace(json_tmp, json_out)
            except OSError as err:
                from foodrec.errors import StoreError

                raise StoreError(
                    f"the store was updated, but --json {json_out} could not be written ({err.strerror or err});"
                    f" the same summary is in {Path(store) / 'ingest_summary.json'}"
                ) from err
    finally:
        if json_tmp is not None:
            json_tmp.unlink(missing_ok=True)
    print_summary(summary)
    _timezone_hint(sources, store)


def _timezone_hint(sources: list[str], store: str) -> None:
    """Say so when the stored hour profile looks shifted (a UTC export of a city elsewhere), and what to pass."""
    from foodrec.data.timezone_check import store_hint

    hint = store_hint(store)
    if hint is not None:
        typer.secho("time zone: " + hint.message(f"foodrec ingest {' '.join(sources)} --store {store}"), fg="yellow")


def _claim_json_path(path: Path) -> Path:
    """Prove ``--json PATH`` can be written before ingesting: create the temporary file it is renamed from."""
    import tempfile

    from foodrec.errors import InputError

    if path.is_dir():
        raise InputError(f"--json {path}: is a directory")
    if not path.parent.is_dir():
        raise InputError(f"--json {path}: folder {str(path.parent)!r} does not exist")
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise InputError(f"--json {path}: cannot write there ({err.strerror or err})") from err
    os.close(fd)
    return Path(name)


def _run(
    sources: list[str], store: str, timezone: str | None, column_map: str | None, fmt: str, anchor_date: str | None
) -> dict:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from foodrec.data.ingest import ingest

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=console, transient=True, disable=not console.is_terminal) as progress:  # fmt: skip
        task = progress.add_task("ingest", total=None)

        def on_progress(label: str, done: int, total: int) -> None:
            progress.update(task, description=f"ingest {label}", completed=done, total=total)

        summary = ingest(
            sources, store, timezone=timezone, column_map=column_map, fmt=fmt, anchor_date=anchor_date,
            on_progress=on_progress,
        )  # fmt: skip
    return summary


def print_summary(summary: dict) -> None:
    """The accounting as rich tables on stdout: counts per source, then quarantine reasons."""
    import os

    from rich.console import Console
    from rich.table import Table

    counts = ("read", "accepted", "quarantined", "duplicates")
    run = summary["last_run"]
    labels = [row["source"] for row in run["sources"]]
    # Long absolute paths wrap badly in a terminal: show them relative to their common folder.
    base = os.path.commonpath(labels) if len(labels) > 1 and all(os.path.isabs(x) for x in labels) else ""
    base = os.path.dirname(base) if base in labels else base

    def short(label: str) -> str:
        return os.path.relpath(label, base) if base else label

    where = f" from {base}" if base else ""
    table = Table(title=f"ingest{where} into {summary['store']} (time zone {summary['timezone']})")
    table.add_column("source", overflow="fold")
    table.add_column("table")
    for name in counts:
        table.add_column(name, justify="right")
    notes, reasons = [], []
    for row in run["sources"]:
        table.add_row(short(row["source"]), row["table"], *(f"{row[k]:,}" for k in counts))
        if row["skipped"]:
            notes.append(f"{short(row['source'])}: skipped, {row['skipped']}")
        if row["ignored_columns"]:
            notes.append(f"{short(row['source'])}: ignored columns {', '.join(row['ignored_columns'])}")
        ranked = sorted(row["reasons"].items(), key=lambda x: -x[1])
        reasons += [(short(row["source"]), reason, n) for reason, n in ranked]
    totals = run["totals"]
    table.add_row("total", "", *(f"{totals[k]:,}" for k in counts), style="bold")
    console = Console()
    console.print(table)
    if reasons:
        why = Table(title="quarantined rows by reason (see STORE/quarantine/)")
        why.add_column("source", overflow="fold")
        why.add_column("reason")
        why.add_column("rows", justify="right")
        for source, reason, n in reasons:
            why.add_row(source, reason, f"{n:,}")
        console.print(why)
    for note in notes:
        console.print(note)
    rows, history = summary["store_rows"], summary["totals"]
    console.print("store now holds " + ", ".join(f"{v:,} {k}" for k, v in rows.items()) + " rows")
    console.print(
        f"all {len(summary['sources'])} sources ingested so far: read {history['read']:,} = accepted"
        f" {history['accepted']:,} + quarantined {history['quarantined']:,} + duplicates {history['duplicates']:,}"
    )
