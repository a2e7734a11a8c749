"""``foodrec drift``: is the recommender still good on recent orders? Exit code 0 = no drift, 3 = retrain.

Compares a reference window (the days before the model's training cutoff; for a baseline the days before
the recent one) with the recent window (the days after the cutoff, as many as before it; for a baseline the
last week, or a third of a shorter log): PSI/KS on areas, meal times,
cuisines and basket values, on the model's score distribution, and NDCG@10 on recent orders vs at
training time. ``--retrain-out`` refits the same kind of recommender on recent data and shows the gain.

.. code-block:: text

    foodrec drift --store runs/demo/store --recommender runs/demo/model --out drift.json
    foodrec drift --store STORE --recommender area-popularity --retrain-out runs/retrained

Exit codes: 0 no drift, 3 drift found (retraining recommended), 2 bad input.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import typer

from foodrec.errors import InputError

EXIT_DRIFT = 3
_NDCG_KEY = re.compile(r"^(val_|validation_)?ndcg(@|_at_|_|)(?P<k>\d+)$", re.IGNORECASE)


def find_metric(metrics: Any, k: int = 10) -> float | None:
    """NDCG@k from a manifest's metrics, tolerant of layout (``ndcg@10``, ``ndcg_at_10``, nested ``overall``).

    >>> find_metric({"ndcg@10": 0.31}), find_metric({"overall": {"NDCG_at_10": 0.2}}), find_metric({"hr@10": 1})
    (0.31, 0.2, None)
    """
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            match = _NDCG_KEY.match(str(key))
            if match and int(match["k"]) == k and isinstance(value, int | float) and math.isfinite(value):
                return float(value)
        for key in ("overall", "validation", "metrics", "mean"):
            if key in metrics and (found := find_metric(metrics[key], k)) is not None:
                return found
        for value in metrics.values():
            if isinstance(value, dict) and (found := find_metric(value, k)) is not None:
                return found
    return None


def manifest_cutoff(manifest: dict[str, Any]) -> str | None:
    """The training cutoff recorded in a model's manifest, if any."""
    for key in ("cutoff", "train_cutoff", "training_cutoff"):
        if manifest.get(key):
            return str(manifest[key])
    for nested in ("data", "training", "split"):
        if isinstance(manifest.get(nested), dict) and (found := manifest_cutoff(manifest[nested])):
            return found
    return None


def run_drift(
    store_dir: Path,
    recommender: str,
    window_days: int | None = None,
    reference_until: str | None = None,
    until: str | None = None,
    level: str | None = None,
    k: int = 10,
    max_ndcg_drop: float = 0.10,
    retrain_out: Path | None = None,
    retrain_days: int | None = None,
    holdout_days: int | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """The whole ``foodrec drift`` as a function (the benchmark and the demo call it); returns drift.json."""
    from foodrec.data.store import Store
    from foodrec.monitoring.check import Thresholds, TrainingQuality, check_drift
    from foodrec.monitoring.windows import default_window_days, make_windows
    from foodrec.recommenders.base import MANIFEST_FILE, load_recommender
    from foodrec.recommenders.registry import make_recommender

    def step(text: str) -> None:
        if progress is not None:
            progress(text)

    if not 0 < max_ndcg_drop < 1:
        raise InputError(f"--max-ndcg-drop must be between 0 and 1 (got {max_ndcg_drop})")
    if k < 1:
        raise InputError(f"-k must be at least 1 (got {k})")
    step("reading the store")
    log = Store.open(store_dir).order_log()
    training: TrainingQuality | None = None
    path = Path(recommender)
    if path.is_dir():
        step("loading the model")
        rec = load_recommender(path)
        manifest = json.loads((path / MANIFEST_FILE).read_text())
        level = log.resolve_level(level or manifest.get("level") or rec.level)
        reference_until = reference_until or manifest_cutoff(manifest)
        if window_days is None:
            window_days = default_window_days(log, reference_until, until)
        windows = make_windows(log, window_days, reference_until, until)
        config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
        value = next(
            (
                v
                for m in (
                    manifest.get("validation_metrics"),
                    manifest.get("metrics"),
                    manifest.get("validation"),
                    config.get("validation"),
                )
                if (v := find_metric(m, k))
            ),  # fmt: skip
            None,
        )
        if value is not None:
            training = TrainingQuality(value, "validation at training time (model manifest)")
        # Its features as the service would see them: every order before each query (a feature view), or for a
        # counting baseline the orders before the reference window.
        rec.refresh(log.before(windows.recent_end) if rec.point_in_time else log.before(windows.reference_start))
        kind = "saved model"
    else:
        if path.exists() or "/" in recommender:
            raise InputError(f"--recommender {recommender!r} is neither a saved model directory nor a baseline name")
        level = log.resolve_level(level)
        if window_days is None:
            window_days = default_window_days(log, None, until)
        windows = make_windows(log, window_days, reference_until, until)
        history = log.before(windows.reference_start)
        if history.orders.empty:
            raise InputError(
                f"no orders before the reference window ({windows.to_dict()['reference_start']}) to fit "
                f"{recommender!r} on; choose a later --reference-until or fewer --window-days"
            )
        rec = make_recommender(recommender, level=level)
        step(f"fitting {recommender} on the orders before the reference window")
        rec.fit(history)
        kind = "baseline fitted before the reference window"
    step("comparing the reference and the recent window")
    result = check_drift(log, rec, windows, level, training, Thresholds(max_ndcg_drop=max_ndcg_drop), k)
    result.update(store=str(store_dir), recommender=recommender, recommender_kind=kind, window_days=window_days)
    if retrain_out is not None:
        from foodrec.monitoring.retrain import retrain_and_compare

        step("retraining on recent data")
        result["retrain"] = retrain_and_compare(
            recommender, rec, log, windows, level, retrain_out, holdout_days, retrain_days, k
        )
    return result


def _print_summary(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    w = result["windows"]
    table = Table(title=f"drift: {w['reference_start'][:10]}..{w['reference_end'][:10]} vs "
                  f"{w['recent_start'][:10]}..{w['recent_end'][:10]}")  # fmt: skip
    for col in ("what", "PSI", "KS", "status"):
        table.add_column(col)
    for f in [*result["inputs"], result["scores"]]:
        psi = "—" if f["psi"] is None else f"{f['psi']:.3f}"
        ks = "—" if f.get("ks_statistic") is None else f"{f['ks_statistic']:.3f}"
        table.add_row(f["feature"], psi, ks, f["status"])
    console.print(table)
    q = result["quality"]
    if q.get("reference") is not None and q.get("recent") is not None:
        console.print(f"{q['metric']}: {q['reference']:.4f} at training time ({q['reference_source']}), "
                      f"{q['recent']:.4f} on {q['recent_n_queries']} recent orders")  # fmt: skip
    if "retrain" in result:
        r = result["retrain"]
        metric = f"ndcg@{result['k']}"
        console.print(f"retrained on recent data: {metric} on the last {r['holdout']['days']} day(s) "
                      f"{r['stale'][metric]:.4f} (stale) → {r['retrained'][metric]:.4f} (retrained)"
                      + (f", saved to {r['saved_to']}" if r.get("saved_to") else ""))  # fmt: skip
    if result["drift"]:
        console.print("[bold red]DRIFT[/]: retraining recommended — " + "; ".join(result["reasons"]))
    else:
        console.print(
            "[bold green]no drift[/]" + ("" if not result["warnings"] else " (" + "; ".join(result["warnings"]) + ")")
        )


def register(app: typer.Typer) -> None:
    """Add ``drift`` to the foodrec CLI."""

    @app.command()
    def drift(
        store: Path = typer.Option(..., "--store", help="The store directory (from `foodrec ingest`)."),
        recommender: str = typer.Option(..., "--recommender", help="A saved model directory or a baseline name."),
        reference_until: str = typer.Option(
            None,
            "--reference-until",
            help="End of the reference window (default: the model's training cutoff, "
            "or for a baseline the start of the recent window).",
        ),  # fmt: skip
        window_days: int = typer.Option(
            None,
            "--window-days",
            help="Length of each window in days (default: for a model the days after its cutoff, as many as before"
            " it, in whole weeks from 7 on; for a baseline 7, or a third of a shorter log).",
        ),  # fmt: skip
        until: str = typer.Option(None, "--until", help="End of the recent window (default: the end of the data)."),
        level: str = typer.Option(None, "--level", help="dish or restaurant (default: the model's or the data's)."),
        k: int = typer.Option(10, "-k", help="Rank cut-off of NDCG@k."),
        max_ndcg_drop: float = typer.Option(0.10, "--max-ndcg-drop", help="Relative NDCG fall that asks for action."),
        out: Path = typer.Option(None, "--out", help="Write the result as JSON here (e.g. drift.json)."),
        retrain_out: Path = typer.Option(None, "--retrain-out", help="Retrain on recent data and save the model here."),
        retrain_days: int = typer.Option(
            None, "--retrain-days", help="Retrain on the last N days only (default: all history)."
        ),  # fmt: skip
        holdout_days: int = typer.Option(
            None,
            "--holdout-days",
            help="Days at the end held out to compare stale vs retrained (default: half a window).",
        ),  # fmt: skip
    ) -> int:
        """Check a recommender for drift. Exit code 0: no drift; 3: drift, retraining recommended; 2: bad input."""
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task("drift check", total=None)
            result = run_drift(
                store, recommender, window_days, reference_until, until, level, k, max_ndcg_drop,
                retrain_out, retrain_days, holdout_days,
                progress=lambda text: bar.update(task, description=text),
            )  # fmt: skip
        if out is not None:
            write_json(result, out)
        _print_summary(result)
        return EXIT_DRIFT if result["drift"] else 0


def write_json(result: dict[str, Any], path: Path) -> None:
    """Write ``result`` atomically as indented JSON."""
    import os

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(result, indent=2))
        os.replace(tmp, path)
    except OSError as err:
        raise InputError(f"cannot write {str(path)!r}: {err.strerror or err}") from err
