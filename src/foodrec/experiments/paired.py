"""Paired ground truth: every variant's expected outcome on the *same* visits, and the true lift with its CI.

For each simulated visit the simulator knows the customer's utilities, so it can price any list in closed form
(:func:`foodrec.experiments.simulator.visit_probabilities`). Asking every variant for its list of the same visit
(``GET /v1/admin/rankings``, never an exposure) gives ``P(order)`` and the expected order value under each
variant's list, whatever the customer was shown. The true lift of a treatment over control is then a ratio of
sums over the same visits::

    lift = sum_v P_T(v) / sum_v P_C(v) - 1

with a delta-method CI that treats customers as clusters (a customer's visits are not independent). It carries
no luck of the split: both arms are priced on every visit. The *arm imbalance* prices control's list in each arm,
so a lucky split (customers who order more anyway, in one arm) is visible next to the A/B estimate.

>>> import pandas as pd
>>> visits = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "arm": ["control", "control", "model", "model"],
...                        "p:control": [0.30, 0.20, 0.40, 0.10], "p:model": [0.33, 0.22, 0.44, 0.11],
...                        "v:control": [6.0, 4.0, 8.0, 2.0], "v:model": [6.6, 4.4, 8.8, 2.2]})
>>> out = paired_lift(visits, "control")
>>> round(out["model"]["orders_per_visit"], 3), round(out["model"]["revenue_per_visit"], 3)
(0.1, 0.1)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

Z95 = 1.959963984540054


def ratio_lift(t: np.ndarray, c: np.ndarray, clusters: np.ndarray, z: float = Z95) -> tuple[float, float, float]:
    """``(lift, low, high)`` of ``sum(t) / sum(c) - 1`` over paired rows, clustered by ``clusters`` (delta method).

    >>> round(ratio_lift(np.array([1.1, 2.2, 3.3]), np.array([1.0, 2.0, 3.0]), np.array(["a", "b", "c"]))[0], 6)
    0.1
    """
    frame = pd.DataFrame({"t": t, "c": c, "g": clusters}).groupby("g", sort=False)[["t", "c"]].sum()
    a, b = frame["t"].to_numpy(np.float64), frame["c"].to_numpy(np.float64)
    n = len(a)
    if n == 0 or b.sum() <= 0:
        return math.nan, math.nan, math.nan
    r = a.sum() / b.sum()
    if n < 2:
        return float(r - 1), math.nan, math.nan
    resid = a - r * b
    se = math.sqrt(resid.var(ddof=1) / n) / b.mean()
    return float(r - 1), float(r - 1 - z * se), float(r - 1 + z * se)


def paired_lift(visits: pd.DataFrame, control: str) -> dict[str, Any]:
    """Per treatment: paired true lift in orders and revenue per visit with 95% CIs.

    ``visits`` has ``customer_id`` and, per variant ``V``, ``p:V`` (P(order) under V's list) and ``v:V`` (the
    expected order value under it); rows with a missing price are left out of that pair.
    """
    names = [c[2:] for c in visits.columns if c.startswith("p:")]
    out: dict[str, Any] = {}
    if control not in names:
        return out
    for name in names:
        if name == control:
            continue
        pair = visits.dropna(subset=[f"p:{name}", f"p:{control}"])
        cid = pair["customer_id"].to_numpy()
        lift, lo, hi = ratio_lift(pair[f"p:{name}"].to_numpy(), pair[f"p:{control}"].to_numpy(), cid)
        rlift, rlo, rhi = ratio_lift(pair[f"v:{name}"].to_numpy(), pair[f"v:{control}"].to_numpy(), cid)
        out[name] = {
            "orders_per_visit": lift, "ci": [lo, hi], "revenue_per_visit": rlift, "revenue_ci": [rlo, rhi],
            "visits": int(len(pair)), "customers": int(pair["customer_id"].nunique()),
            "p_order_per_visit": float(pair[f"p:{name}"].mean()),
            "control_p_order_per_visit": float(pair[f"p:{control}"].mean()),
        }  # fmt: skip
    return out


def arm_imbalance(visits: pd.DataFrame, control: str) -> dict[str, Any]:
    """What control's list would give in each arm: P(order) and expected value per visit, and each arm's ratio
    to the control arm with a CI. Both near 0 means the split is fair; an A/B estimate carries this luck.
    """
    if f"p:{control}" not in visits.columns or "arm" not in visits.columns:
        return {}
    rows = visits.dropna(subset=[f"p:{control}"])
    out: dict[str, Any] = {"priced_with": control, "arms": {}}
    base = rows[rows["arm"] == control]
    for arm, g in rows.groupby("arm", sort=True):
        entry: dict[str, Any] = {
            "visits": int(len(g)),
            "customers": int(g["customer_id"].nunique()),
            "control_list_p_order_per_visit": float(g[f"p:{control}"].mean()),
            "control_list_value_per_visit": float(g[f"v:{control}"].mean()),
        }
        if arm != control and len(base):
            entry["vs_control_arm"] = _two_arm_ratio(g, base, f"p:{control}")
        out["arms"][str(arm)] = entry
    return out


def _two_arm_ratio(t: pd.DataFrame, c: pd.DataFrame, column: str) -> dict[str, float]:
    """Ratio of per-visit means of two independent groups of customers minus 1, with a clustered 95% CI."""

    def mean_var(g: pd.DataFrame) -> tuple[float, float]:
        per = g.groupby("customer_id")[column].agg(["sum", "size"])
        a, b = per["sum"].to_numpy(np.float64), per["size"].to_numpy(np.float64)
        m = a.sum() / b.sum()
        var = ((a - m * b).var(ddof=1) / len(a)) / b.mean() ** 2 if len(a) > 1 else math.nan
        return m, var

    mt, vt = mean_var(t)
    mc, vc = mean_var(c)
    r = mt / mc
    se = r * math.sqrt(vt / mt**2 + vc / mc**2)
    return {"lift": float(r - 1), "ci": [float(r - 1 - Z95 * se), float(r - 1 + Z95 * se)]}
