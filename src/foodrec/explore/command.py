"""``foodrec eda``: the exploratory report of a store's order log, as one HTML file plus its figures as JSON.

    foodrec eda --store runs/demo/store --out eda.html                 # figures in eda.json
    foodrec eda --store runs/demo/store --out eda.html --json-out figures.json

Heavy libraries (matplotlib, scipy) are imported inside the command so ``foodrec --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import typer

from foodrec.errors import InputError

INGEST_SUMMARY = "ingest_summary.json"


def read_ingest_summary(store_path: Path) -> dict[str, Any] | None:
    """``STORE/ingest_summary.json`` when present and readable, else None (the report then skips it)."""
    path = store_path / INGEST_SUMMARY
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_eda(
    store_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    json_out: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Compute the figures of a store, write the HTML report and the JSON; returns the figures."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from foodrec.data.store import Store
    from foodrec.explore.figures import SECTIONS, compute_figures
    from foodrec.explore.report import build_report

    out_path = Path(out)
    json_path = Path(json_out) if json_out else out_path.with_suffix(".json")
    if out_path.resolve() == json_path.resolve():
        raise InputError(f"--out and --json-out are the same file: {str(out_path)!r}")
    for target in (out_path, json_path):
        if target.is_dir():
            raise InputError(f"{str(target)!r} is a directory; give a file name such as report.html")
    store = Store.open(store_dir)
    for target in (out_path, json_path):  # fail before the work, not after it
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the folder for {str(target)!r}: {err.strerror}") from err
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("eda: reading the store", total=len(SECTIONS) + 2)
        log = store.order_log()
        progress.advance(task)

        def step(name: str) -> None:
            progress.update(task, description=f"eda: {name}", advance=1)

        figs = compute_figures(
            log.orders,
            timezone=log.timezone,
            restaurants=log.restaurants,
            items=log.items,
            ingest=read_ingest_summary(store.path),
            progress=step,
        )
        progress.update(task, description="eda: drawing the report")
        report = build_report(figs, source=f"store {store.path}")
        try:
            report.write(out_path)
            _write_json(figs, json_path)
        except OSError as err:
            raise InputError(f"cannot write the report: {err.strerror}: {err.filename}") from err
        progress.advance(task)
    return figs


def _write_json(figs: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(figs, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


def register(app: typer.Typer) -> None:
    """Add ``eda`` to the foodrec CLI."""

    @app.command("eda")
    def eda(
        store: Path = typer.Option(..., "--store", help="Store directory (from `foodrec ingest`)."),
        out: Path = typer.Option(..., "--out", help="HTML report to write (one self-contained file)."),
        json_out: Path | None = typer.Option(
            None, "--json-out", help="Figures as JSON (default: the report's path with .json)."
        ),
    ) -> None:
        """Explore the order log: volume, areas, popularity, customers, repeats, missing values, money, drivers."""
        started = time.perf_counter()
        figs = run_eda(store, out, json_out)
        json_path = json_out or out.with_suffix(".json")
        ov = figs["overview"]
        typer.echo(
            f"eda: {ov['orders']:,} orders, {ov['customers']:,} customers, times in {ov['timezone']}; "
            f"wrote {out} and {json_path} in {time.perf_counter() - started:.1f} s"
        )
        hint = figs["volume"].get("timezone_hint")
        if hint:
            from foodrec.data.timezone_check import TimezoneHint

            message = TimezoneHint.from_dict(hint).message(f"foodrec ingest SOURCE... --store {store}")
            typer.secho(f"eda: time zone: {message}", fg="yellow")


__all__ = ["register", "run_eda", "read_ingest_summary"]
