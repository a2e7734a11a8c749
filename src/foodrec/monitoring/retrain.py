"""Retraining on recent data, and the proof that it helps.

When :mod:`foodrec.monitoring.check` asks for action, :func:`retrain_and_compare` refits the same kind
of recommender with the same settings (a baseline by name, or a saved model — baseline or Keras —
loaded and fitted again) and measures both models on the same held-out orders:

* holdout: the last ``holdout_days`` of the recent window (default: half of it, at least one day);
* the *stale* model is the one being monitored, untouched;
* the *retrained* model is fitted on the data before the holdout (the last ``retrain_days`` only, when
  given), then scored on the holdout: the gain is honest, the holdout is in neither model's past;
* the model saved to ``--retrain-out`` is then refitted on everything up to the end of the recent window
  (for a Keras model, which is slow to fit, the evaluated model itself is saved).

>>> result = retrain_and_compare("area-popularity", stale, log, windows, "dish", Path("new"))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.monitoring.drift import _json_safe
from foodrec.monitoring.quality import measure_window
from foodrec.monitoring.windows import WindowPair
from foodrec.recommenders.base import Recommender


def _baseline_classes() -> dict[type, str]:
    try:
        from foodrec.recommenders.registry import baseline_factories

        return {cls: name for name, cls in baseline_factories().items()}
    except ImportError:
        return {}


def is_keras_model(rec: Recommender) -> bool:
    """True for recommenders that are not baselines (the Keras models of ``foodrec train``)."""
    return type(rec) not in _baseline_classes()


def fresh_recommender(spec: str, level: str) -> Recommender:
    """An unfitted recommender of the same kind and settings as ``spec`` (a baseline name or a saved model).

    A saved model is loaded again and refitted: ``fit`` starts from scratch with the saved settings
    (for the Keras model: its recorded ``TrainConfig``), and the monitored instance stays untouched.
    """
    from foodrec.recommenders.base import load_recommender
    from foodrec.recommenders.registry import make_recommender

    if not Path(spec).is_dir():
        return make_recommender(spec, level=level)
    rec = load_recommender(spec)
    rec.level = level
    return rec


def _restrict(log: OrderLog, end: pd.Timestamp, retrain_days: int | None) -> OrderLog:
    if retrain_days is None:
        return log.before(end)
    return log.between(end - pd.Timedelta(days=retrain_days), end)


def retrain_and_compare(
    spec: str,
    stale: Recommender,
    log: OrderLog,
    windows: WindowPair,
    level: str,
    out: Path | None,
    holdout_days: int | None = None,
    retrain_days: int | None = None,
    k: int = 10,
) -> dict[str, Any]:
    """Refit on recent data, compare with the stale model on the holdout, save the refit to ``out``."""
    window_days = max(1, round((windows.recent_end - windows.recent_start) / pd.Timedelta(days=1)))
    holdout_days = holdout_days or max(1, window_days // 2)
    if retrain_days is not None and retrain_days < 1:
        raise InputError(f"--retrain-days must be at least 1 (got {retrain_days})")
    holdout_start = windows.recent_end - pd.Timedelta(days=holdout_days)
    holdout = log.between(holdout_start, windows.recent_end)
    train = _restrict(log, holdout_start, retrain_days)
    if train.orders.empty:
        raise InputError("no orders before the retraining holdout: nothing to retrain on")
    keras = Path(spec).is_dir() and is_keras_model(stale)

    def fit(data: OrderLog) -> Recommender:
        rec = fresh_recommender(spec, level).fit(data)
        # Looked-up features as the stale model gets them (point in time, up to the holdout's end).
        return rec.refresh(log.before(windows.recent_end)) if rec.point_in_time else rec

    candidate = fit(train)
    stale_q = measure_window(stale, holdout, level, k)
    new_q = measure_window(candidate, holdout, level, k)
    result: dict[str, Any] = {
        "holdout": {"start": holdout_start.strftime("%Y-%m-%dT%H:%M:%SZ"), "days": holdout_days, "orders": stale_q.n},
        "trained_on": {
            "start": train.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": holdout_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orders": int(train.orders["order_id"].nunique()),
            "retrain_days": retrain_days,
        },
        "stale": stale_q.summary(),
        "retrained": new_q.summary(),
    }
    if stale_q.n:
        gain = new_q.ndcg - stale_q.ndcg  # paired: the same holdout orders
        se = float(gain.std(ddof=1) / len(gain) ** 0.5) if len(gain) > 1 else float("nan")
        base = stale_q.mean_ndcg
        result["gain"] = {
            "ndcg": float(gain.mean()),
            "stderr": se,
            "ci95": [float(gain.mean() - 1.96 * se), float(gain.mean() + 1.96 * se)],
            "relative": float(gain.mean() / base) if base > 0 else None,
        }
    if out is not None:
        if Path(spec).is_dir() and out.resolve() == Path(spec).resolve():
            raise InputError("--retrain-out must not be the monitored model's own directory")
        final_end = holdout_start if keras else windows.recent_end
        final = candidate if keras else fit(_restrict(log, final_end, retrain_days))
        cutoff = final_end.strftime("%Y-%m-%dT%H:%M:%SZ")
        final.save(
            out,
            extra={
                "cutoff": cutoff,
                "retrained_from": spec,
                "validation_metrics": {
                    f"ndcg@{k}": new_q.mean_ndcg,
                    f"hr@{k}": new_q.summary()[f"hr@{k}"],
                    "measured_on": f"retraining holdout {result['holdout']['start']} + {holdout_days} days",
                },
            },
        )
        result["saved_to"] = str(out)
        result["saved_cutoff"] = cutoff
    return _json_safe(result)
