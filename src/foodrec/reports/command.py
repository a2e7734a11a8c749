"""``foodrec report``: the stakeholder report, one self-contained HTML page for people who do not do ML.

It reads the JSON the other steps wrote (leaderboard, evaluation, model manifest, A/B analysis, drift)
from the folders or files given to ``--results`` and the store's orders for the data plots; a part whose
result is missing is shown as "not run yet", never as an error.

.. code-block:: text

    foodrec report --store runs/demo/store --results runs/demo --out runs/demo/stakeholder_report.html
"""

from __future__ import annotations

from pathlib import Path

import typer

from foodrec.errors import InputError


def write_stakeholder_report(store: Path | None, results: list[Path], out: Path) -> tuple[Path, list[str], list[str]]:
    """Build and write the report; returns its path, the parts found and the parts missing."""
    from foodrec.reports.results import KINDS, collect_results
    from foodrec.reports.stakeholder import build_report

    orders = None
    timezone = "UTC"
    synthetic = False
    if store is not None:
        from foodrec.data.store import Store
        from foodrec.errors import StoreError

        opened = Store.open(store)
        timezone = opened.timezone
        try:
            orders = opened.orders()
        except StoreError:  # an empty store: the data section says so, the rest of the report still comes
            orders = None
        synthetic = (opened.path / "truth").is_dir()
    found = collect_results(results, store)
    report = build_report(store, found, orders, timezone, synthetic=synthetic)
    try:
        path = report.write(out)
    except OSError as err:
        raise InputError(f"cannot write {str(out)!r}: {err.strerror or err}") from err
    present = [k for k in KINDS if k in found.found]
    missing = [k for k in ("leaderboard", "evaluation", "abtest", "drift") if k not in found.found]
    return path, present, missing


def register(app: typer.Typer) -> None:
    """Add ``report`` to the foodrec CLI."""

    @app.command()
    def report(
        store: Path = typer.Option(None, "--store", help="The store directory, for the data plots."),
        results: list[Path] = typer.Option(
            None, "--results", help="Folders or JSON files written by baselines/evaluate/abtest/drift (repeatable)."
        ),
        out: Path = typer.Option(Path("stakeholder_report.html"), "--out", help="The HTML file to write."),
    ) -> None:
        """Write the stakeholder report: problem, data, baseline vs model, where it works, A/B, drift, limitations."""
        if store is None and not results:
            raise InputError("give --store and/or --results: there is nothing to report on")
        if out.suffix.lower() not in (".html", ".htm"):
            raise InputError(f"--out must be an .html file (got {str(out)!r})")
        from rich.console import Console

        with Console(stderr=True).status("writing the stakeholder report"):
            path, present, missing = write_stakeholder_report(store, list(results or []), out)
        typer.echo(f"report: {path}")
        typer.echo(f"results used: {', '.join(present) or 'none'}")
        if missing:
            typer.echo(f"not found (shown as not run yet): {', '.join(missing)}")
