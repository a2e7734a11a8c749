"""Distribution drift between a reference sample and a recent one: PSI and the KS test.

PSI (population stability index) compares the share of observations in each bin:
``sum((recent% - ref%) * ln(recent% / ref%))``. Bins are fixed from the *reference* sample (quantile
edges for numbers, the reference's categories plus "other" for labels), so the same reference always
gives the same bins. Conventional reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
KS (Kolmogorov-Smirnov, via scipy) is the largest gap between the two cumulative distributions; on the
thousands of orders of a week its p-value flags even tiny shifts, so the decision uses the statistic
(an effect size) and PSI, and the p-value is only reported.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(30, 5, 5000)
>>> round(numeric_psi(ref, rng.normal(30, 5, 5000)), 3) < 0.1
True
>>> numeric_psi(ref, rng.normal(40, 5, 5000)) > 0.25
True
>>> round(categorical_psi(["a"] * 50 + ["b"] * 50, ["a"] * 50 + ["b"] * 50), 6)
0.0
>>> compare_numeric("basket_value", ref, ref + 20).status
'major'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

PSI_MODERATE = 0.10
PSI_MAJOR = 0.25
# KS statistic (max CDF gap) above which a numeric shift counts as major on its own.
KS_MAJOR = 0.20
# A category "surges" when its share doubles (or halves), moves by >= 2 points, and the move is beyond chance.
SURGE_RATIO = 2.0
SURGE_MIN_CHANGE = 0.02
SURGE_ALPHA = 0.001
# Share floor for empty bins so that ln(0) never happens (a standard PSI convention).
_EPS = 1e-4
OTHER = "(other)"
MISSING = "(missing)"


def psi_status(psi: float) -> str:
    """``stable``, ``moderate`` or ``major`` for a PSI value.

    >>> [psi_status(v) for v in (0.05, 0.15, 0.4)]
    ['stable', 'moderate', 'major']
    """
    if not math.isfinite(psi):
        return "unknown"
    if psi >= PSI_MAJOR:
        return "major"
    if psi >= PSI_MODERATE:
        return "moderate"
    return "stable"


def _psi_from_shares(ref_share: np.ndarray, new_share: np.ndarray) -> float:
    ref = np.clip(ref_share, _EPS, None)
    new = np.clip(new_share, _EPS, None)
    return float(np.sum((new - ref) * np.log(new / ref)))


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (duplicates dropped, so discrete data gets fewer bins).

    >>> quantile_edges(np.arange(100.0), bins=4).tolist()
    [24.75, 49.5, 74.25]
    """
    ref = np.asarray(reference, dtype=float)
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        return np.array([])
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # A value equal to an edge joins the lower bin, the same way for both samples.
    idx = np.searchsorted(edges, values, side="left")
    counts = np.bincount(idx, minlength=edges.size + 1).astype(float)
    return counts / max(counts.sum(), 1.0)


def numeric_psi(reference: Sequence[float] | np.ndarray, recent: Sequence[float] | np.ndarray, bins: int = 10) -> float:
    """PSI of two numeric samples with ``bins`` quantile bins taken from ``reference`` (NaN/inf ignored)."""
    ref = np.asarray(reference, dtype=float)
    new = np.asarray(recent, dtype=float)
    ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
    if ref.size == 0 or new.size == 0:
        return float("nan")
    edges = quantile_edges(ref, bins)
    return _psi_from_shares(_bin_shares(ref, edges), _bin_shares(new, edges))


def category_shares(reference: Any, recent: Any, max_categories: int = 30) -> pd.DataFrame:
    """Shares per category in both samples; categories are the reference's top ``max_categories``.

    Everything else (including categories only seen recently) is pooled as ``(other)``; missing values
    are a category of their own, ``(missing)``.

    >>> shares = category_shares(["a", "a", "b", None], ["a", "c"])
    >>> shares["category"].tolist(), shares["reference"].tolist(), shares["recent"].tolist()
    (['a', '(missing)', 'b', '(other)'], [0.5, 0.25, 0.25, 0.0], [0.5, 0.0, 0.0, 0.5])
    """
    ref = pd.Series(reference, dtype=object).fillna(MISSING).astype(str)
    new = pd.Series(recent, dtype=object).fillna(MISSING).astype(str)
    counts = ref.value_counts()
    # ties broken by name so the bins never depend on input order
    counts = counts.sort_index().sort_values(ascending=False, kind="stable")
    keep = list(counts.index[:max_categories])
    ref_c = ref.where(ref.isin(keep), OTHER)
    new_c = new.where(new.isin(keep), OTHER)
    cats = keep + [OTHER]
    ref_share = ref_c.value_counts(normalize=True).reindex(cats, fill_value=0.0)
    new_share = new_c.value_counts(normalize=True).reindex(cats, fill_value=0.0)
    return pd.DataFrame(
        {"category": cats, "reference": ref_share.to_numpy(dtype=float), "recent": new_share.to_numpy(dtype=float)}
    )


def categorical_psi(reference: Any, recent: Any, max_categories: int = 30) -> float:
    """PSI of two samples of labels (see :func:`category_shares` for the bins)."""
    if len(reference) == 0 or len(recent) == 0:
        return float("nan")
    shares = category_shares(reference, recent, max_categories)
    return _psi_from_shares(shares["reference"].to_numpy(), shares["recent"].to_numpy())


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one input (or of the model's scores) between the reference and the recent window."""

    feature: str
    kind: str  # "numeric" or "categorical"
    psi: float
    status: str  # stable | moderate | major | unknown (too little data)
    n_reference: int
    n_recent: int
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    reference_summary: dict[str, Any] | None = None
    recent_summary: dict[str, Any] | None = None
    top_changes: list[dict[str, Any]] | None = None
    surges: list[dict[str, Any]] | None = None  # categories whose share doubled or halved (see category_surges)

    @property
    def drifted(self) -> bool:
        """True for a major shift: the one that asks for action."""
        return self.status == "major"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["drifted"] = self.drifted
        return _json_safe(out)


def _summary(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    q = np.quantile(values, [0.25, 0.5, 0.75])
    return {"mean": float(values.mean()), "p25": float(q[0]), "median": float(q[1]), "p75": float(q[2])}


def compare_numeric(feature: str, reference: Any, recent: Any, bins: int = 10, min_count: int = 30) -> FeatureDrift:
    """PSI and KS of a numeric input; fewer than ``min_count`` values on either side gives ``unknown``."""
    from scipy import stats

    ref = np.asarray(reference, dtype=float)
    new = np.asarray(recent, dtype=float)
    ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
    if ref.size < min_count or new.size < min_count:
        return FeatureDrift(feature, "numeric", float("nan"), "unknown", int(ref.size), int(new.size))
    value = numeric_psi(ref, new, bins)
    ks = stats.ks_2samp(ref, new)
    status = psi_status(value)
    if ks.statistic >= KS_MAJOR:
        status = "major"
    return FeatureDrift(
        feature,
        "numeric",
        value,
        status,
        int(ref.size),
        int(new.size),
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        reference_summary=_summary(ref),
        recent_summary=_summary(new),
    )


def category_surges(shares: pd.DataFrame, n_ref: int, n_new: int, alpha: float = SURGE_ALPHA) -> pd.DataFrame:
    """Categories whose share at least doubled or halved, by at least ``SURGE_MIN_CHANGE``, beyond chance.

    PSI sums over all categories, so one niche cuisine tripling (1.5% -> 5% of orders) barely moves it,
    yet its dishes are then ranked far too low. A two-proportion z-test per category (Bonferroni over
    the categories) with both effect floors catches that without flagging noise in tiny categories.

    >>> shares = pd.DataFrame({"category": ["korean", "late"], "reference": [0.015, 0.007], "recent": [0.06, 0.015]})
    >>> category_surges(shares, 3000, 3000)["category"].tolist()
    ['korean']
    """
    from scipy import stats

    p1, p2 = shares["reference"].to_numpy(dtype=float), shares["recent"].to_numpy(dtype=float)
    pooled = (p1 * n_ref + p2 * n_new) / (n_ref + n_new)
    se = np.sqrt(np.clip(pooled * (1 - pooled), 1e-12, None) * (1 / n_ref + 1 / n_new))
    z = (p2 - p1) / se
    crit = stats.norm.isf(alpha / (2 * max(len(shares), 1)))
    ratio = np.maximum(p2, _EPS) / np.maximum(p1, _EPS)
    surge = (np.abs(p2 - p1) >= SURGE_MIN_CHANGE) & ((ratio >= SURGE_RATIO) | (ratio <= 1 / SURGE_RATIO))
    surge &= np.abs(z) >= crit
    out = shares.assign(ratio=ratio, z=z)[surge]
    return out.sort_values("z", key=np.abs, ascending=False)


def compare_categorical(
    feature: str, reference: Any, recent: Any, max_categories: int = 30, min_count: int = 30
) -> FeatureDrift:
    """PSI of a categorical input, the categories whose share moved most, and surges (KS does not apply).

    The status is ``major`` when PSI is, or when a category surged (see :func:`category_surges`).
    """
    n_ref, n_new = len(reference), len(recent)
    if n_ref < min_count or n_new < min_count:
        return FeatureDrift(feature, "categorical", float("nan"), "unknown", n_ref, n_new)
    shares = category_shares(reference, recent, max_categories)
    value = _psi_from_shares(shares["reference"].to_numpy(), shares["recent"].to_numpy())
    shares["change"] = shares["recent"] - shares["reference"]
    moved = shares.reindex(shares["change"].abs().sort_values(ascending=False, kind="stable").index).head(5)
    top = [
        {"category": r.category, "reference": float(r.reference), "recent": float(r.recent)}
        for r in moved.itertuples(index=False)
    ]
    surges = [
        {"category": r.category, "reference": float(r.reference), "recent": float(r.recent), "z": float(r.z)}
        for r in category_surges(shares, n_ref, n_new).itertuples(index=False)
    ]
    status = "major" if surges else psi_status(value)
    return FeatureDrift(feature, "categorical", value, status, n_ref, n_new, top_changes=top, surges=surges or None)


def _json_safe(value: Any) -> Any:
    """NaN/inf become None so the JSON is valid for every reader."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
