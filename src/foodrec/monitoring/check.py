"""The drift check: inputs, model scores and ranking quality, reference window vs recent window.

:func:`check_drift` takes a log, a fitted recommender and the windows, and returns a JSON-ready dict
(the ``drift.json`` that ``foodrec drift`` writes and ``foodrec report`` reads):

.. code-block:: text

    {"kind": "foodrec.drift", "windows": {...}, "inputs": [{feature, psi, status, ...}],
     "scores": {...}, "quality": {"reference": .., "recent": .., "relative_drop": .., "degraded": ..},
     "drift": true|false, "action": "retrain"|"none", "reasons": ["..."], "exit_code": 0|3}

Drift is declared (exit code 3, retraining recommended) when an input or the score distribution shows
a major shift (PSI >= 0.25, KS >= 0.2 for numbers, or one category whose share doubled or halved by at
least 2 points beyond chance — see :func:`~foodrec.monitoring.drift.category_surges`), or when NDCG@10
on recent orders fell more than ``max_ndcg_drop`` (relative) below the training-time value and the fall
exceeds twice its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from foodrec.data.orderlog import OrderLog
from foodrec.monitoring.drift import _json_safe, compare_categorical, compare_numeric
from foodrec.monitoring.quality import WindowQuality, measure_window
from foodrec.monitoring.windows import WindowPair, has_cuisines, order_inputs
from foodrec.recommenders.base import Recommender

EXIT_OK = 0
EXIT_DRIFT = 3
INPUT_FEATURES = ("area", "meal_time", "cuisine", "basket_value")


@dataclass(frozen=True)
class Thresholds:
    """When a check asks for action; the defaults are the conventional PSI cut-offs."""

    max_ndcg_drop: float = 0.10  # relative fall of NDCG@k versus training time
    z: float = 2.0  # the fall must also exceed z standard errors (not just noise on a small window)


@dataclass(frozen=True)
class TrainingQuality:
    """NDCG@k at training time: from a model's manifest, or measured on the reference window."""

    ndcg: float
    source: str
    stderr: float = float("nan")
    n_queries: int | None = None


def input_drift(reference: OrderLog, recent: OrderLog) -> list[dict[str, Any]]:
    """PSI/KS of areas, meal times, cuisines (when the catalogue has them) and basket values."""
    ref, new = order_inputs(reference), order_inputs(recent)
    results = [
        compare_categorical("area", ref["area"].tolist(), new["area"].tolist()),
        compare_categorical("meal_time", ref["meal_time"].tolist(), new["meal_time"].tolist()),
    ]
    if has_cuisines(reference):
        results.append(compare_categorical("cuisine", ref["cuisine"].tolist(), new["cuisine"].tolist()))
    results.append(compare_numeric("basket_value", ref["basket_value"].to_numpy(), new["basket_value"].to_numpy()))
    return [r.to_dict() for r in results]


def _input_reason(f: dict[str, Any]) -> str:
    text = f"input '{f['feature']}' shifted (PSI {f['psi']:.2f}"
    if f.get("ks_statistic") is not None:
        text += f", KS {f['ks_statistic']:.2f}"
    text += ")"
    for surge in f.get("surges") or []:
        text += f"; '{surge['category']}' went from {surge['reference']:.1%} to {surge['recent']:.1%} of orders"
    return text


def quality_change(training: TrainingQuality, recent: WindowQuality, thresholds: Thresholds) -> dict[str, Any]:
    """Training-time vs recent NDCG@k, with the relative drop and whether it counts as degraded."""
    recent_ndcg = recent.mean_ndcg
    out: dict[str, Any] = {
        "metric": f"ndcg@{recent.k}",
        "reference": training.ndcg,
        "reference_source": training.source,
        "reference_n_queries": training.n_queries,
        "recent": recent_ndcg,
        "recent_stderr": recent.stderr_ndcg,
        "recent_n_queries": recent.n,
        "recent_hr": float(recent.hits.mean()) if recent.n else None,
    }
    if not (math.isfinite(training.ndcg) and math.isfinite(recent_ndcg)) or training.ndcg <= 0:
        out.update(drop=None, relative_drop=None, degraded=False)
        return out
    drop = training.ndcg - recent_ndcg
    se = math.sqrt(np.nansum([recent.stderr_ndcg**2, training.stderr**2])) if recent.n > 1 else float("inf")
    degraded = drop / training.ndcg > thresholds.max_ndcg_drop and drop > thresholds.z * se
    out.update(drop=drop, relative_drop=drop / training.ndcg, stderr_of_drop=se, degraded=bool(degraded))
    return out


def check_drift(
    log: OrderLog,
    rec: Recommender,
    windows: WindowPair,
    level: str,
    training: TrainingQuality | None = None,
    thresholds: Thresholds | None = None,
    k: int = 10,
) -> dict[str, Any]:
    """Run every comparison; ``training=None`` measures training-time quality on the reference window."""
    thresholds = thresholds or Thresholds()
    reference, recent = windows.reference(log), windows.recent(log)
    inputs = input_drift(reference, recent)
    ref_q = measure_window(rec, reference, level, k)
    rec_q = measure_window(rec, recent, level, k)
    scores = compare_numeric("model_score", ref_q.top_scores, rec_q.top_scores).to_dict()
    if training is None:
        training = TrainingQuality(ref_q.mean_ndcg, "measured on the reference window", ref_q.stderr_ndcg, ref_q.n)
    quality = quality_change(training, rec_q, thresholds)
    quality["reference_window_measured"] = ref_q.summary()

    reasons = [_input_reason(f) for f in inputs if f["drifted"]]
    if scores["drifted"]:
        reasons.append(f"the model's score distribution shifted (PSI {scores['psi']:.2f})")
    if quality["degraded"]:
        reasons.append(
            f"NDCG@{k} fell from {quality['reference']:.3f} ({training.source}) to {quality['recent']:.3f} "
            f"on recent orders ({quality['relative_drop']:.0%} lower)"
        )
    warnings = [
        f"input '{f['feature']}' moved moderately (PSI {f['psi']:.2f})" for f in inputs if f["status"] == "moderate"
    ]
    unknown = [f["feature"] for f in [*inputs, scores] if f["status"] == "unknown"]
    if unknown:
        warnings.append(f"too little data to judge (under 30 values): {', '.join(unknown)}")
    drift = bool(reasons)
    return _json_safe(
        {
            "kind": "foodrec.drift",
            "version": 1,
            "level": level,
            "k": k,
            "windows": windows.to_dict(),
            "orders": {
                "reference": int(reference.orders["order_id"].nunique()),
                "recent": int(recent.orders["order_id"].nunique()),
            },
            "thresholds": {
                "psi_major": 0.25,
                "psi_moderate": 0.10,
                "ks_major": 0.20,
                "max_ndcg_drop": thresholds.max_ndcg_drop,
                "z": thresholds.z,
            },
            "inputs": inputs,
            "scores": scores,
            "quality": quality,
            "drift": drift,
            "action": "retrain" if drift else "none",
            "reasons": reasons,
            "warnings": warnings,
            "exit_code": EXIT_DRIFT if drift else EXIT_OK,
        }
    )
