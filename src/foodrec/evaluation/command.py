"""Commands of the baseline/evaluation step: ``foodrec baselines``, ``foodrec evaluate``, ``foodrec recommend``.

Heavy work (pandas, scipy, the recommenders) is imported inside the commands so ``foodrec --help`` stays fast.

    foodrec baselines --store runs/demo/store --until 2026-03-01 --out results.json
    foodrec evaluate --store runs/demo/store --recommender customer-history
    foodrec recommend --recommender area-popularity --store runs/demo/store --queries q.csv --k 10 --out r.csv
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from foodrec.errors import InputError

DEFAULT_RESULTS_DIR = "evaluation"  # under the store, when no --out is given
MAX_AREAS_SHOWN = 15


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    # Only on a terminal: in pipes and logs a progress bar is noise (and would precede a one-line error).
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _check_level(level: str | None) -> str | None:
    if level is not None:
        from foodrec.data.schema import target_column

        target_column(level)
    return level


def _prepare(store_dir: Path, until: str | None, level: str | None) -> tuple[Any, Any, Any, str]:
    """Open the store, split it at ``until`` and build the test cases: (log, split, cases, level)."""
    from foodrec.data.store import Store
    from foodrec.evaluation.cases import make_test_cases
    from foodrec.evaluation.split import temporal_split

    _check_level(level)
    log = Store.open(store_dir).order_log()
    split = temporal_split(log, until=until)
    level = split.train.resolve_level(level)
    cases = make_test_cases(split.train, split.test, level)
    return log, split, cases, level


def _default_out(store_dir: Path, name: str) -> Path:
    return store_dir / DEFAULT_RESULTS_DIR / name


def _run_baselines(
    names: list[str], split: Any, cases: Any, level: str, k: int, n_boot: int, seed: int, description: str
) -> list[Any]:
    from foodrec.evaluation.evaluate import evaluate_recommender
    from foodrec.recommenders.registry import make_recommender

    results = []
    with _progress() as progress:
        task = progress.add_task(description, total=len(names))
        for name in names:
            progress.update(task, description=f"{description}: {name}")
            rec = make_recommender(name, level=level).fit(split.train)
            results.append(evaluate_recommender(rec, cases, k=k, n_boot=n_boot, seed=seed))
            progress.advance(task)
    return results


def _new_customers_served(choice: Any) -> str:
    """What answers customers without history, with validation's evidence for it when there is some."""
    served = "the network's cold-start head" if choice.new_customers == "network" else "area-mealtime-popularity"
    new = choice.evidence.get("new_customers") or {}
    if new.get("orders"):
        margin = new.get("margin") or {}
        served += (
            f" (validation, {new['orders']:,} orders: head {new['network']:.4f}, popularity "
            f"{new['area-mealtime-popularity']:.4f}"
            + (f", head - popularity {margin['mean']:+.4f}, needed > {margin['needed']:.4f}" if margin else "")
            + ")"
        )
    return served


def _context(store_dir: Path, split: Any, cases: Any, level: str, k: int, n_boot: int, seed: int) -> dict[str, Any]:
    return {
        "store": str(store_dir),
        "cutoff": split.cutoff.isoformat(),
        "test_end": split.test.end.isoformat(),
        "level": level,
        "k": k,
        "n_boot": n_boot,
        "seed": seed,
        "train_lines": len(split.train.orders),
        "test_orders": len(cases),
        "returning_share": round(float((cases.segments["customer_type"] == "returning").mean()), 4),
        "catalogue_size": cases.catalogue_size,
    }


def baselines(
    store: Path = typer.Option(..., "--store", help="Store directory (from `foodrec ingest`)."),
    until: str | None = typer.Option(None, "--until", help="End of training (ISO time); default leaves ~20% of days."),
    level: str | None = typer.Option(None, "--level", help="dish or restaurant; default: dish when items exist."),
    k: int = typer.Option(10, "--k", min=1, max=1000, help="Length of each top-k list."),
    out: Path | None = typer.Option(None, "--out", "--json-out", help="JSON results (default STORE/evaluation/)."),
    n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap replicates for the 95% CIs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
) -> None:
    """Fit every baseline on the past, test on the future, and print the leaderboard (best first)."""
    from foodrec.evaluation.leaderboard import board_records, leaderboard, print_leaderboard, write_json
    from foodrec.recommenders.baselines import BASELINES, has_ground_truth

    log, split, cases, level = _prepare(store, until, level)
    names = [n for n in BASELINES if n != "oracle" or has_ground_truth(log)]
    skipped = {} if "oracle" in names else {"oracle": "no ground truth in this store (real data)"}
    results = _run_baselines(names, split, cases, level, k, n_boot, seed, "baselines")
    board = leaderboard(results)
    print_leaderboard(
        board,
        title=f"Baselines at level {level}: train before {split.cutoff:%Y-%m-%d %H:%M} UTC, {len(cases):,} test orders",
    )
    payload = {
        **_context(store, split, cases, level, k, n_boot, seed),
        "leaderboard": board_records(board),
        "skipped": skipped,
        "results": {r.name: r.to_dict() for r in results},
    }
    path = write_json(out or _default_out(store, "baselines.json"), payload)
    typer.echo(f"results: {path}")


def _manifest_cutoff(path: Path) -> str | None:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    cutoff = manifest.get("cutoff") if isinstance(manifest, dict) else None
    return str(cutoff) if cutoff else None


def evaluate(
    store: Path = typer.Option(..., "--store", help="Store directory (from `foodrec ingest`)."),
    recommender: str = typer.Option(..., "--recommender", help="A baseline name or a saved model directory."),
    until: str | None = typer.Option(None, "--until", help="End of training; default: a saved model's own cutoff."),
    level: str | None = typer.Option(None, "--level", help="dish or restaurant (baselines only)."),
    k: int = typer.Option(10, "--k", min=1, max=1000, help="Length of each top-k list."),
    out: Path | None = typer.Option(None, "--out", "--json-out", help="JSON results (default STORE/evaluation/)."),
    n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap replicates for the 95% CIs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
) -> None:
    """Evaluate one recommender, per segment, and compare it with the strongest other baseline (paired CI)."""
    from rich.console import Console
    from rich.table import Table

    from foodrec.evaluation.evaluate import evaluate_recommender, paired_difference
    from foodrec.evaluation.leaderboard import board_records, leaderboard, print_leaderboard, write_json
    from foodrec.recommenders.base import load_recommender
    from foodrec.recommenders.baselines import BASELINES
    from foodrec.recommenders.registry import make_recommender

    path = Path(recommender)
    saved = path.is_dir()
    if saved:
        rec = load_recommender(path)
        until = until or _manifest_cutoff(path)
        if level is not None and rec.level is not None and level != rec.level:
            raise InputError(f"{recommender} ranks at level {rec.level!r}; --level {level} does not apply")
        level = level or rec.level
    else:
        rec = make_recommender(recommender, level=_check_level(level))
    log, split, cases, level = _prepare(store, until, level)
    with _progress() as progress:
        task = progress.add_task(f"evaluating {rec.name}", total=None)
        # A baseline counts the training period; a saved model keeps its parameters and looks its features up
        # in the same period (test queries see nothing after the cutoff either way).
        rec.refresh(split.train) if saved else rec.fit(split.train)
        result = evaluate_recommender(
            rec, cases, k=k, n_boot=n_boot, seed=seed, name=recommender if not saved else rec.name
        )
        progress.update(task, completed=1, total=1)
    # The strongest *other* baseline: a saved baseline is not compared with a fresh copy of itself.
    peers = [n for n in BASELINES if n not in ("oracle", recommender, rec.name)]
    peer_results = _run_baselines(peers, split, cases, level, k, n_boot, seed, "baselines for comparison")
    strongest = leaderboard(peer_results).iloc[0]["recommender"]
    best = next(r for r in peer_results if r.name == strongest)
    diff = paired_difference(result, best, n_boot=n_boot, seed=seed)

    console = Console()
    print_leaderboard(
        leaderboard([result, best]),
        title=f"{result.name} vs the strongest other baseline "
        f"({len(cases):,} test orders, train before "
        f"{split.cutoff:%Y-%m-%d %H:%M} UTC)",
        console=console,
    )
    table = Table(title=f"Paired difference: {result.name} minus {strongest} (same queries)")
    for column in ("metric", "difference", "95% CI", "p"):
        table.add_column(column, justify="right")
    for metric, row in diff.iterrows():
        table.add_row(
            metric, f"{row['diff']:+.4f}", f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]", f"{row['p_value']:.3f}"
        )
    console.print(table)
    seg = result.segments[result.segments["metric"] == "ndcg"]
    # Logs with many small areas (e.g. DHRD geohashes) would flood the terminal: show the largest areas only.
    areas = seg[seg["segment"] == "area"]
    if len(areas) > MAX_AREAS_SHOWN:
        shown = areas.nlargest(MAX_AREAS_SHOWN, "n", keep="first").index
        seg = seg[(seg["segment"] != "area") | seg.index.isin(shown)]
    note = (
        f" ({MAX_AREAS_SHOWN} largest of {len(areas)} areas; all in the JSON)" if len(areas) > MAX_AREAS_SHOWN else ""
    )
    seg_table = Table(title=f"NDCG@{k} of {result.name} per segment{note}")
    for column in ("segment", "value", "orders", f"NDCG@{k}", "95% CI"):
        seg_table.add_column(column, justify="right")
    for row in seg.to_dict("records"):
        seg_table.add_row(
            row["segment"],
            row["value"],
            f"{row['n']:,}",
            f"{row['mean']:.3f}",
            f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]",
        )
    console.print(seg_table)
    choice = getattr(rec, "choice", None)  # a Keras model serves what validation chose (network, baseline, blend)
    if choice is not None:
        typer.echo(
            f"served: {choice.kind}"
            + (f" ({choice.baseline}" + (f", weight {choice.weight:g})" if choice.kind == "blend" else ")"))
            * (choice.kind != "network")
            + f", chosen on validation: {choice.evidence.get('choose_ndcg10', choice.evidence.get('skipped', {}))}"
            + f"; new customers: {_new_customers_served(choice)}"
        )

    payload = {
        **_context(store, split, cases, level, k, n_boot, seed),
        "recommender": result.name,
        "served": choice.to_json() if choice is not None else None,
        "result": result.to_dict(),
        "strongest_baseline": strongest,
        "baseline_result": best.to_dict(),
        "paired_difference": {
            m: {c: (bool(v) if c == "significant" else round(float(v), 6)) for c, v in row.items()}
            for m, row in diff.iterrows()
        },
        "baselines": board_records(leaderboard(peer_results)),
    }
    safe_name = Path(result.name).name or "model"
    target = write_json(out or _default_out(store, f"evaluate-{safe_name}.json"), payload)
    typer.echo(f"results: {target}")


def read_queries(path: Path) -> Any:
    """Read a queries CSV (``customer_id, area, at``) into the interface's query frame; one-line errors."""
    import warnings

    import numpy as np
    import pandas as pd

    from foodrec.recommenders.base import QUERY_COLUMNS, make_queries

    if not path.is_file():
        raise InputError(f"queries file {str(path)!r} does not exist")
    try:
        with warnings.catch_warnings():
            # A row with more fields than the header would silently lose data: make it an error instead.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], index_col=False)
    except pd.errors.ParserWarning as err:
        raise InputError(f"{path}: a row has more fields than the header (customer_id,area,at)") from err
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{path}: the queries file is empty (need a header customer_id,area,at)") from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in QUERY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (need {', '.join(QUERY_COLUMNS)})")
    frame = frame.reset_index(drop=True)
    if frame["at"].isna().any():
        row = int(np.flatnonzero(frame["at"].isna())[0])
        raise InputError(f"{path}: row {row} has no 'at' timestamp")
    parsed = pd.to_datetime(frame["at"].str.strip(), utc=True, format="ISO8601", errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna())[0])
        raise InputError(f"{path}: row {row}: 'at' value {frame['at'].iloc[row]!r} is not an ISO 8601 timestamp")
    try:
        return make_queries(frame["customer_id"], frame["area"], frame["at"])
    except InputError as err:
        raise InputError(f"{path}: {err}") from err


def recommend(
    recommender: str = typer.Option(..., "--recommender", help="A baseline name or a saved model directory."),
    queries: Path = typer.Option(..., "--queries", help="CSV with columns customer_id, area, at (ISO time)."),
    out: Path = typer.Option(..., "--out", help="Output CSV: query_id, rank, item_id, score."),
    store: Path | None = typer.Option(
        None, "--store", help="Store the features come from (a baseline is fitted on it; a model looks its data up)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Use only orders before this time (default all; each query also sees only its past)."
    ),
    level: str | None = typer.Option(None, "--level", help="dish or restaurant (baselines only)."),
    k: int = typer.Option(10, "--k", min=1, max=1000, help="Items per query."),
) -> None:
    """Batch scoring: the top k items for every query of a CSV, written as query_id, rank, item_id, score.

    Everything data-derived comes from the store (orders before --until, and before each query's own time);
    a saved model brings only its learned parameters."""
    from foodrec.data.orderlog import to_utc_timestamp
    from foodrec.data.store import Store
    from foodrec.recommenders.base import load_recommender
    from foodrec.recommenders.registry import make_recommender

    if until is not None:
        to_utc_timestamp(until)  # a bad --until fails before any work
    frame = read_queries(queries)
    path = Path(recommender)
    saved = path.is_dir()
    rec = load_recommender(path) if saved else make_recommender(recommender, level=_check_level(level))
    if store is None:
        what = "a model looks its features up in" if saved else "a baseline is fitted on"
        raise InputError(f"give --store: the orders {what} (recommender {recommender!r})")
    log = Store.open(store).order_log(until=until)
    if log.orders.empty:
        raise InputError(f"the store has no orders before {until}: nothing to look up for {recommender!r}")
    with _progress() as progress:
        task = progress.add_task(f"{'features for' if saved else 'fitting'} {recommender}", total=None)
        rec.refresh(log)
        progress.update(task, completed=1, total=1)
    ranking = rec.recommend(frame, k=k)
    result = ranking.to_frame()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        result.to_csv(tmp, index=False)
        tmp.replace(out)
    except OSError as err:
        raise InputError(f"cannot write {str(out)!r}: {err.strerror or err}") from err
    typer.echo(f"{len(frame):,} queries, {len(result):,} recommendations -> {out}")


def register(app: typer.Typer) -> None:
    """Add ``baselines``, ``evaluate`` and ``recommend`` to the foodrec CLI."""
    app.command("baselines")(baselines)
    app.command("evaluate")(evaluate)
    app.command("recommend")(recommend)
