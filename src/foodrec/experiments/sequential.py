"""Always-valid A/B decisions: the mixture sequential probability ratio test (mSPRT) with a normal mixture.

A fixed-horizon test may be read once, at the planned sample size; reading it every day and stopping at the first
significant day inflates false positives. The mSPRT (Robbins 1970; Johari, Pekelis and Walsh, "Always valid
inference", 2017; what Optimizely's stats engine runs) may be read after every new customer: with the difference
in means ``d``, its variance ``V`` at this look and a normal mixture ``N(0, tau²)`` over the true effect,

    Lambda = sqrt(V / (V + tau²)) * exp(d² tau² / (2 V (V + tau²)))

is a nonnegative martingale under H0, so ``P(Lambda ever >= 1/alpha) <= alpha`` (Ville's inequality). The
always-valid p-value is ``min over looks of 1 / Lambda``, and the matching confidence sequence is

    d ± sqrt(V (V + tau²) / tau² * (2 log(1/alpha) + log((V + tau²) / V)))

``tau`` is where the test is most powerful: here the MDE in absolute units (``mde * control mean``, taken from the
first look). ``foodrec abtest --sequential`` replays the looks a daily reader would have made (one per day of
data, each with the customers exposed and the orders seen by the end of that day), so re-running it each day
gives the same answer a daily reader got, and it may stop as soon as ``p < alpha``.

>>> r = msprt(diff=0.0, var=0.01, tau2=0.01)
>>> round(r["lambda"], 3), r["p_value"]
(0.707, 1.0)
>>> msprt(diff=0.5, var=0.01, tau2=0.01)["p_value"] < 0.05
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from foodrec.errors import InputError


def msprt(diff: float, var: float, tau2: float, alpha: float = 0.05) -> dict[str, float]:
    """The mixture likelihood ratio, its p-value bound ``min(1, 1/Lambda)`` and the (1-alpha) confidence sequence."""
    if not (var > 0 and tau2 > 0) or not math.isfinite(diff):
        return {"lambda": math.nan, "p_value": 1.0, "low": -math.inf, "high": math.inf}
    log_lam = 0.5 * math.log(var / (var + tau2)) + diff**2 * tau2 / (2 * var * (var + tau2))
    lam = math.exp(min(log_lam, 700.0))
    half = math.sqrt(var * (var + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((var + tau2) / var)))
    return {"lambda": lam, "p_value": min(1.0, 1.0 / lam), "low": diff - half, "high": diff + half}


def diff_and_var(y_t: np.ndarray, y_c: np.ndarray) -> tuple[float, float]:
    """Difference in means and its variance (unpooled)."""
    if len(y_t) < 2 or len(y_c) < 2:
        return math.nan, math.nan
    return float(y_t.mean() - y_c.mean()), float(y_t.var(ddof=1) / len(y_t) + y_c.var(ddof=1) / len(y_c))


def sequential_path(
    looks: list[tuple[np.ndarray, np.ndarray]], mde: float, alpha: float = 0.05, tau: float | None = None
) -> list[dict[str, Any]]:
    """Run the mSPRT over successive looks ``(y_treatment, y_control)``; each row carries the running p-value.

    ``tau`` (absolute) defaults to ``mde`` times the control mean at the first look with data.
    """
    rows: list[dict[str, Any]] = []
    p_run = 1.0
    low_run, high_run = -math.inf, math.inf
    for y_t, y_c in looks:
        d, v = diff_and_var(np.asarray(y_t, float), np.asarray(y_c, float))
        if tau is None and len(y_c) >= 2 and np.mean(y_c) > 0:
            tau = mde * float(np.mean(y_c))
        r = msprt(d, v, (tau or 0.0) ** 2, alpha)
        p_run = min(p_run, r["p_value"])
        # the intersection of the confidence sequence so far is still a (1-alpha) confidence sequence
        low_run, high_run = max(low_run, r["low"]), min(high_run, r["high"])
        base = float(np.mean(y_c)) if len(y_c) else math.nan
        rows.append({
            "n_treatment": len(y_t), "n_control": len(y_c), "diff": d, "var": v, "lambda": r["lambda"],
            "p_value": p_run, "lift": d / base if base else math.nan,
            "lift_low": low_run / base if base else math.nan, "lift_high": high_run / base if base else math.nan,
            "significant": p_run < alpha,
        })  # fmt: skip
    return rows


def obf_spent(t: float, alpha: float) -> float:
    """Lan-DeMets O'Brien-Fleming alpha spending: the share of ``alpha`` spent by information fraction ``t``.

    >>> round(obf_spent(1.0, 0.05), 6), obf_spent(0.25, 0.05) < 0.001
    (0.05, True)
    """
    from scipy import stats

    if t <= 0:
        return 0.0
    return float(2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(min(t, 1.0))))


def gst_boundaries(fractions: list[float], alpha: float, paths: int = 400_000, seed: int = 0) -> list[float]:
    """Two-sided z boundaries of a group-sequential test at the information ``fractions`` (increasing, last <= 1)
    with O'Brien-Fleming spending, by Monte Carlo over Brownian paths (seeded: the same looks, the same answer).

    >>> b = gst_boundaries([0.25, 0.5, 0.75, 1.0], 0.05)
    >>> [round(x, 1) for x in b]        # the classic O'Brien-Fleming shape: strict early, ~2 at the end
    [3.9, 2.8, 2.3, 2.0]
    """
    rng = np.random.default_rng(seed)
    w = np.zeros(paths)
    alive = np.ones(paths, dtype=bool)
    out, prev_t, spent = [], 0.0, 0.0
    for t in fractions:
        w = w + rng.standard_normal(paths) * math.sqrt(max(t - prev_t, 0.0))
        prev_t = t
        z = np.abs(w) / math.sqrt(t) if t > 0 else np.zeros(paths)
        target = obf_spent(t, alpha)
        rejections = int(round((target - spent) * paths))
        if rejections <= 0:
            out.append(math.inf)
            continue
        candidates = np.sort(z[alive])[::-1]
        c = float(candidates[min(rejections, len(candidates)) - 1])
        out.append(c)
        hit = alive & (z >= c)
        spent += hit.sum() / paths
        alive &= ~hit
    return out


def gst_path(
    looks: list[tuple[np.ndarray, np.ndarray]], planned_per_arm: float, alpha: float = 0.05, paths: int = 400_000
) -> list[dict[str, Any]]:
    """A group-sequential test over successive looks, planned to end at ``planned_per_arm`` customers per arm
    (the power analysis' sample size, fixed before the test): information fraction = customers per arm so far /
    planned (1 at or past the plan: the final look), O'Brien-Fleming spending, z against its boundary. A look
    that adds no customers is skipped; a boundary depends only on the looks up to it."""
    stats_ = [diff_and_var(np.asarray(y_t, float), np.asarray(y_c, float)) for y_t, y_c in looks]
    used: list[int] = []
    fractions: list[float] = []
    sizes = [(len(y_t) + len(y_c)) / 2 for y_t, y_c in looks]
    for i, (_, v) in enumerate(stats_):
        if not v > 0 or (fractions and fractions[-1] >= 1.0):
            continue
        t = min(1.0, sizes[i] / planned_per_arm)
        if fractions and t <= fractions[-1]:
            continue
        used.append(i)
        fractions.append(t)
    bounds = dict(zip(used, gst_boundaries(fractions, alpha, paths), strict=True)) if used else {}
    rows: list[dict[str, Any]] = []
    decided = False
    for i, ((y_t, y_c), (d, v)) in enumerate(zip(looks, stats_, strict=True)):
        base = float(np.mean(y_c)) if len(y_c) else math.nan
        row: dict[str, Any] = {"n_treatment": len(y_t), "n_control": len(y_c), "diff": d, "var": v}
        if i not in bounds or decided:
            rows.append({**row, "significant": decided, "skipped": True})
            continue
        c, t = bounds[i], min(1.0, sizes[i] / planned_per_arm)
        z = d / math.sqrt(v)
        decided = abs(z) >= c
        half = c * math.sqrt(v) if math.isfinite(c) else math.inf
        rows.append({**row, "information": t, "z": z, "boundary": c, "significant": decided,
                     "lift": d / base if base else math.nan, "lift_low": (d - half) / base if base else math.nan,
                     "lift_high": (d + half) / base if base else math.nan, "final": t >= 1.0})  # fmt: skip
    return rows


def daily_looks(
    events: pd.DataFrame,
    control: str,
    treatment: str,
    metric: str = "orders",
    pre_period: pd.DataFrame | None = None,
) -> list[tuple[pd.Timestamp, np.ndarray, np.ndarray]]:
    """The looks a daily reader makes: at the end of each day of data, the customers exposed so far and their
    ``metric`` (``orders`` or ``revenue``) so far, CUPED-adjusted with ``pre_period`` when given."""
    from foodrec.experiments.analysis import cuped_adjust, customer_outcomes, normalise_events

    ev = normalise_events(events)
    ev = ev[ev["variant"].isin([control, treatment])]
    times = ev["occurred_at"].dropna()
    if times.empty:
        return []
    first_day = times.min().normalize()
    last = times.max()
    looks = []
    end = first_day + pd.Timedelta(days=1)
    while True:
        cut = min(end, last + pd.Timedelta(microseconds=1))
        part = ev[ev["occurred_at"] < cut]
        if (part["type"] == "impression").any():
            cust = customer_outcomes(part, pre_period)
            y = cust[metric].to_numpy(float)
            cov = {"orders": "pre_orders", "revenue": "pre_spend"}[metric]
            if pre_period is not None and cov in cust.columns and cust[cov].var() > 0:
                y, _, _ = cuped_adjust(y, cust[cov].to_numpy(float))
            arm = cust["variant"].to_numpy()
            looks.append((cut, y[arm == treatment], y[arm == control]))
        if end > last:
            break
        end += pd.Timedelta(days=1)
    return looks


def sequential_ab(
    events: pd.DataFrame,
    control: str,
    treatments: list[str],
    mde: float,
    alpha: float = 0.05,
    metric: str = "orders",
    pre_period: pd.DataFrame | None = None,
    method: str = "msprt",
    planned_per_arm: int | None = None,
) -> dict[str, Any]:
    """Per treatment: the daily path of the sequential test and the verdict at the last look (alpha split over
    treatments). ``method`` is ``msprt`` (always valid) or ``gst`` (group-sequential, O'Brien-Fleming spending,
    planned to end at ``planned_per_arm`` customers per arm, the power analysis' sample size)."""
    a = alpha / max(len(treatments), 1)
    name = {"msprt": "mSPRT, normal mixture", "gst": "group-sequential, O'Brien-Fleming alpha spending"}[method]
    out: dict[str, Any] = {"method": name, "alpha": alpha, "alpha_per_test": a, "mde": mde,
                           "metric": f"{metric}_per_customer" + ("_cuped" if pre_period is not None else ""),
                           "treatments": {}}  # fmt: skip
    if method == "gst":
        if not planned_per_arm or planned_per_arm < 2:
            raise InputError("--sequential-method gst needs a planned sample size (a control arm to size it on)")
        out["planned_per_arm"] = planned_per_arm
    for t in treatments:
        looks = daily_looks(events, control, t, metric, pre_period)
        pairs = [(y_t, y_c) for _, y_t, y_c in looks]
        gst = method == "gst"
        path = gst_path(pairs, float(planned_per_arm or 0), a) if gst else sequential_path(pairs, mde, a)
        for (when, _, _), row in zip(looks, path, strict=True):
            row["until"] = when.isoformat()
        stop_at = next((i for i, r in enumerate(path) if r["significant"]), None)
        used = [r for r in path if not r.get("skipped")]
        last = (path[stop_at] if stop_at is not None else used[-1]) if used else {}
        out["treatments"][t] = {
            "looks": path, "p_value": last.get("p_value"), "significant": stop_at is not None,
            "lift": last.get("lift"), "ci": [last.get("lift_low"), last.get("lift_high")],
            "z": last.get("z"), "boundary": last.get("boundary"), "final": bool(last.get("final", False)),
            "first_significant_look": stop_at, "direction": None if not last else
            ("better" if last.get("lift_low", -1) > 0 else "worse" if last.get("lift_high", 1) < 0 else None),
        }  # fmt: skip
    return out


def decide_sequential(result: Any, seq: dict[str, Any], mde: float, power: float = 0.8) -> Any:
    """The decision when the primary metric is read sequentially: the fixed-horizon rules for the sample ratio
    and the guardrails, then the always-valid verdict (roll out / stop at the first significant look, else keep
    running until the planned sample size, after which any effect is smaller than the MDE)."""
    from foodrec.experiments.decision import KEEP_RUNNING, ROLL_OUT, STOP, Decision, decide

    base = decide(result, mde=mde, power=power)
    breached = len(result.guardrails) and (result.guardrails["status"] == "breached").any()
    if not result.srm["ok"] or breached:
        return base
    common = {"required_per_arm": base.required_per_arm, "current_per_arm": base.current_per_arm,
              "achieved_power": base.achieved_power,
              "power_detail": {**base.power_detail, "sequential": True}}  # fmt: skip
    label = seq["metric"].replace("_cuped", " (CUPED)").replace("_", " ")
    verdicts = seq["treatments"]

    gst = seq["method"].startswith("group")

    def line(name: str, v: dict[str, Any]) -> str:
        lo, hi = v["ci"]
        look = v["first_significant_look"]
        when = f", significant at look {look + 1} of {len(v['looks'])}" if look is not None else ""
        if gst:
            return (f"{name}: {label} {v['lift']:+.1%} (repeated 95% CI {lo:+.1%} to {hi:+.1%}, "
                    f"z = {v['z']:.2f} against the O'Brien-Fleming boundary {v['boundary']:.2f}, "
                    f"{len(v['looks'])} daily looks{when})")  # fmt: skip
        return (f"{name}: {label} {v['lift']:+.1%} (always-valid 95% CI {lo:+.1%} to {hi:+.1%}, "
                f"always-valid p = {v['p_value']:.2g}, {len(v['looks'])} daily looks{when})")  # fmt: skip

    better = {n: v for n, v in verdicts.items() if v["significant"] and v["direction"] == "better"}
    worse = {n: v for n, v in verdicts.items() if v["significant"] and v["direction"] == "worse"}
    if better:
        best = max(better, key=lambda n: better[n]["lift"])
        why = ("group-sequential: the boundary spends alpha over the planned looks, so it may stop here" if gst
               else "mSPRT: valid however often it is read, so it may stop here")  # fmt: skip
        reasons = [line(best, better[best]), why,
                   "sample ratio is as planned and no guardrail is breached"]  # fmt: skip
        return Decision(ROLL_OUT, best, reasons, **common)
    if worse:
        name = min(worse, key=lambda n: worse[n]["lift"])
        return Decision(STOP, None, [line(name, worse[name]), "keep control"], **common)
    reasons = [line(n, v) for n, v in verdicts.items()]
    need, now = base.required_per_arm, base.current_per_arm
    final = any(v.get("final") for v in verdicts.values())
    if (need is not None and now >= need) or final:
        reasons.append(f"{now:,} customers per arm reached the planned {need:,}: any effect is smaller than the MDE")
        return Decision(STOP, None, [*reasons, "keep control"], **common)
    reasons.append("no significant change yet; read again tomorrow (the test stays valid under daily looks)")
    return Decision(KEEP_RUNNING, None, reasons, more_customers=base.more_customers, **common)
