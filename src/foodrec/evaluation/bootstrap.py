"""Bootstrap confidence intervals over queries (percentile method, seeded) and paired differences.

Queries are the resampling unit: each replicate draws n queries with replacement and averages their metrics.
For two recommenders on the same queries the *same* draws are used, so the interval is on the difference
(much narrower than comparing two separate intervals).

>>> import pandas as pd
>>> values = pd.DataFrame({"hr": [1.0, 0.0, 1.0, 1.0]})
>>> ci = bootstrap_ci(values, n_boot=200, seed=0)
>>> ci.loc["hr", "mean"], bool(ci.loc["hr", "ci_low"] <= 0.75 <= ci.loc["hr", "ci_high"])
(np.float64(0.75), True)
>>> diff = paired_difference(values, pd.DataFrame({"hr": [0.0, 0.0, 1.0, 0.0]}), n_boot=200)
>>> diff.loc["hr", "diff"]
np.float64(0.5)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from foodrec.errors import InputError

DEFAULT_N_BOOT = 1000
# Cells gathered per chunk (queries x replicates): bounds memory whatever n and n_boot are.
_CHUNK_CELLS = 2_000_000


def bootstrap_means(values: np.ndarray, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> np.ndarray:
    """``(n_boot, m)`` means of ``values`` (shape ``(n, m)``) over query resamples."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n = values.shape[0]
    if n == 0:
        return np.full((n_boot, values.shape[1]), np.nan)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, values.shape[1]))
    per_chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_boot, per_chunk):
        reps = min(per_chunk, n_boot - start)
        idx = rng.integers(0, n, size=(reps, n))
        out[start : start + reps] = values[idx].mean(axis=1)
    return out


def _interval(boots: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - confidence) / 2.0
    return np.quantile(boots, alpha, axis=0), np.quantile(boots, 1.0 - alpha, axis=0)


def _check(n_boot: int, confidence: float) -> None:
    if n_boot < 1:
        raise InputError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")


def bootstrap_ci(
    metrics: pd.DataFrame, n_boot: int = DEFAULT_N_BOOT, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """Mean and percentile CI of each column of per-query ``metrics``: index metric, columns mean/ci_low/ci_high."""
    _check(n_boot, confidence)
    values = metrics.to_numpy(dtype=np.float64)
    means = values.mean(axis=0) if len(values) else np.full(values.shape[1], np.nan)
    lo, hi = _interval(bootstrap_means(values, n_boot, seed), confidence)
    return pd.DataFrame({"mean": means, "ci_low": lo, "ci_high": hi}, index=pd.Index(metrics.columns, name="metric"))


def paired_difference(
    a_metrics: pd.DataFrame,
    b_metrics: pd.DataFrame,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """A minus B on the same queries: index metric; columns a, b, diff, ci_low, ci_high, p_value, significant.

    ``p_value`` is the two-sided bootstrap p-value of "no difference"; ``significant`` means the CI excludes 0.
    """
    _check(n_boot, confidence)
    if len(a_metrics) != len(b_metrics):
        raise InputError(f"paired comparison needs the same queries: {len(a_metrics)} vs {len(b_metrics)} rows")
    columns = [c for c in a_metrics.columns if c in b_metrics.columns]
    if not columns:
        raise InputError("paired comparison: the two metric tables share no column")
    a = a_metrics[columns].to_numpy(dtype=np.float64)
    b = b_metrics[columns].to_numpy(dtype=np.float64)
    diff = a - b
    boots = bootstrap_means(diff, n_boot, seed)
    lo, hi = _interval(boots, confidence)
    below = (boots <= 0).mean(axis=0)
    above = (boots >= 0).mean(axis=0)
    p_value = np.minimum(1.0, 2.0 * np.minimum(below, above))
    return pd.DataFrame(
        {
            "a": a.mean(axis=0),
            "b": b.mean(axis=0),
            "diff": diff.mean(axis=0),
            "ci_low": lo,
            "ci_high": hi,
            "p_value": p_value,
            "significant": (lo > 0) | (hi < 0),
        },
        index=pd.Index(columns, name="metric"),
    )
