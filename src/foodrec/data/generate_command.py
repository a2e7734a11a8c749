"""``foodrec generate``: write a synthetic city (orders, catalogue, ground truth) into a directory.

>>> from foodrec.cli import main
>>> main(["generate", "--out", "/tmp/city", "--preset", "small", "--days", "7"])   # doctest: +SKIP
0
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from foodrec.errors import InputError


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the foodrec CLI."""
    app.command("generate")(generate)


def generate(
    out: Path = typer.Option(..., "--out", help="Directory to write the city into (a city there is replaced)."),
    preset: str = typer.Option("default", "--preset", help="Size preset: default, small, dishes, large or twin."),
    seed: int = typer.Option(42, "--seed", help="Random seed: same seed and options, same files."),
    customers: int | None = typer.Option(None, "--customers", help="Number of customers (overrides the preset)."),
    days: int | None = typer.Option(None, "--days", help="Number of days simulated (overrides the preset)."),
    restaurants: int | None = typer.Option(None, "--restaurants", help="Number of restaurants (overrides the preset)."),
    level: str | None = typer.Option(None, "--level", help="dish (orders name dishes) or restaurant (no item_id)."),
    drift_at: int | None = typer.Option(None, "--drift-at", help="From this day on, a cuisine trend changes tastes."),
    dhrd: bool = typer.Option(False, "--dhrd", help="Also write DHRD-format text files under DIR/dhrd/."),
    fmt: str = typer.Option("csv", "--format", help="Orders file format: csv or parquet."),
    start: str | None = typer.Option(None, "--start", help="First day (local date, YYYY-MM-DD); default 2026-01-05."),
    timezone: str | None = typer.Option(
        None,
        "--timezone",
        help="The city's IANA time zone (people eat by its clock) [default: America/Los_Angeles]. orders.csv is always"
        " written in UTC; city.json names the zone, so ingesting the folder reads it and ingesting orders.csv alone"
        " does not (a UTC export).",
    ),
) -> None:
    """Generate a synthetic city: orders.csv, catalogue CSVs, city.json and the ground truth (truth/)."""
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from foodrec.data.store import CATALOGUE_FILE
    from foodrec.data.synthetic.generate import generate_city
    from foodrec.data.synthetic.presets import preset_config

    if (out / CATALOGUE_FILE).exists():
        raise InputError(
            f"--out {out} is a foodrec store: generate would replace its ground truth; write the city to another"
            f" folder and ingest it with `foodrec ingest DIR --store {out}`"
        )
    start_date = None
    if start is not None:
        try:
            start_date = dt.date.fromisoformat(start)
        except ValueError as err:
            raise InputError(f"--start must be a date like 2026-01-05 (got {start!r})") from err
    if timezone is not None:
        from foodrec.data.readers.detect import check_timezone

        check_timezone(timezone)
    config = preset_config(
        preset, seed=seed, customers=customers, days=days, restaurants=restaurants, level=level, drift_at=drift_at,
        start=start_date, timezone=timezone,
    )  # fmt: skip
    console = Console(stderr=True)
    with Progress(
        TextColumn("simulating days"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("days", total=config.days)
        summary = generate_city(
            config, out, fmt=fmt, dhrd=dhrd, preset=preset, progress=lambda day: bar.update(task, completed=day + 1)
        )
    typer.echo(
        f"generated {summary['rows']:,} rows, {summary['orders']:,} orders, {summary['customers']:,} customers, "
        f"{summary['days']} days, {summary['restaurants']} restaurants"
        + (f", {summary['items']:,} dishes" if summary["items"] else "")
        + f" into {out}"
    )
    typer.echo("files: " + ", ".join(summary["files"]))
    typer.echo("summary: " + json.dumps({k: v for k, v in summary.items() if k != "files"}))
