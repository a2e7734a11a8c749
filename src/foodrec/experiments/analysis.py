"""A/B analysis of service events: per-variant metrics, lifts with CIs, the right test for each metric.

Unit of analysis is the *exposed customer*: a customer enters the experiment at their first impression and
belongs to the variant of that impression (intent to treat, even if a later request shows another variant).
Only orders at or after the first exposure count.

* conversion (share of exposed customers who ordered): two-proportion z-test; lift CI by the delta method on log ratio
* orders and revenue per exposed customer: Welch's t-test; revenue also gets a seeded percentile bootstrap CI
* CUPED: revenue adjusted with each customer's pre-period spend from the order log (``theta`` pooled over arms)
* sample-ratio mismatch (SRM): chi-square of customers per variant against the planned split
* guardrails: average order value (ratio metric, delta method), latency and error rate when the events carry them

>>> events = synthetic_events(n_customers=4000, lift=0.0, seed=1)
>>> result = analyze(events, control="control", n_boot=200)
>>> sorted(result.variants["variant"])
['control', 'treatment']
>>> bool(result.srm["ok"])
True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from foodrec.errors import InputError

EVENT_TYPES = ("impression", "click", "order")
REQUIRED_EVENT_COLUMNS = ("event_id", "type", "customer_id", "variant")
SRM_THRESHOLD = 0.001  # conventional: an SRM p-value this small means the assignment is broken

# metric name -> (label, kind); kind decides the test
METRICS: dict[str, tuple[str, str]] = {
    "conversion": ("conversion (customers who ordered)", "proportion"),
    "orders_per_customer": ("orders per exposed customer", "mean"),
    "revenue_per_customer": ("revenue per exposed customer", "mean"),
}
PRIMARY_CHOICES = ("orders_per_customer", "conversion", "revenue_per_customer")
# metric -> (per-customer column, pre-period covariate) for CUPED
CUPED_COVARIATES = {"orders_per_customer": ("orders", "pre_orders"), "revenue_per_customer": ("revenue", "pre_spend")}


# -- reading events ---------------------------------------------------------------------------
def normalise_events(events: pd.DataFrame) -> pd.DataFrame:
    """Check and clean an events frame (contract 5 columns): types, timestamps, one row per event id."""
    missing = [c for c in REQUIRED_EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise InputError(f"events: required column(s) {', '.join(missing)} missing (have {', '.join(events.columns)})")
    ev = events.copy()
    for col in ("event_id", "customer_id", "variant", "type"):
        ev[col] = ev[col].astype("object").map(lambda v: None if v is None or v != v else str(v))
    ev["type"] = ev["type"].str.lower()
    ev = ev[ev["type"].isin(EVENT_TYPES) & ev["customer_id"].notna() & ev["variant"].notna()]
    ev = ev.drop_duplicates("event_id", keep="first")
    for col in ("occurred_at", "received_at"):
        if col in ev.columns:
            ev[col] = pd.to_datetime(ev[col], utc=True, errors="coerce", format="mixed")
    if "occurred_at" not in ev.columns:
        ev["occurred_at"] = ev["received_at"] if "received_at" in ev.columns else pd.NaT
    elif "received_at" in ev.columns:
        ev["occurred_at"] = ev["occurred_at"].fillna(ev["received_at"])
    value = ev["order_value"] if "order_value" in ev.columns else pd.Series(np.nan, index=ev.index)
    value = pd.to_numeric(value, errors="coerce").astype("float64")
    ev["order_value"] = value.where(np.isfinite(value)).clip(lower=0)  # inf is as unknown as NaN
    return ev.reset_index(drop=True)


def customer_outcomes(events: pd.DataFrame, pre_period: pd.Series | pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per exposed customer: variant, first exposure, impressions, clicks, orders, revenue, converted.

    ``pre_period`` (indexed by customer id: a Series of spend, or a frame with ``spend`` and ``orders`` before
    the experiment) adds ``pre_spend`` / ``pre_orders`` columns (0 for customers without history).
    """
    ev = normalise_events(events)
    imp = ev[ev["type"] == "impression"].sort_values(["occurred_at", "event_id"], na_position="last")
    if imp.empty:
        raise InputError("events: no impressions, so no customer was exposed to any variant")
    first = imp.groupby("customer_id", sort=True).agg(
        variant=("variant", "first"),
        first_exposure=("occurred_at", "first"),
        impressions=("event_id", "size"),
        variants_seen=("variant", "nunique"),
    )
    out = first.copy()
    joined = ev.join(first[["first_exposure"]], on="customer_id", how="inner")
    # events without a time cannot be placed; keep them (they cannot precede an exposure we cannot date either)
    after = (
        joined["occurred_at"].isna()
        | joined["first_exposure"].isna()
        | (joined["occurred_at"] >= joined["first_exposure"])
    )
    joined = joined[after]
    clicks = joined[joined["type"] == "click"].groupby("customer_id").size()
    orders = joined[joined["type"] == "order"]
    out["clicks"] = clicks.reindex(out.index, fill_value=0).astype(int)
    out["orders"] = orders.groupby("customer_id").size().reindex(out.index, fill_value=0).astype(int)
    out["revenue"] = orders.groupby("customer_id")["order_value"].sum().reindex(out.index, fill_value=0.0)
    out["converted"] = (out["orders"] > 0).astype(int)
    if pre_period is not None:
        pre = pre_period.to_frame("spend") if isinstance(pre_period, pd.Series) else pre_period
        pre = pre.set_axis(pre.index.astype(str), axis=0)
        for col in ("spend", "orders"):
            if col in pre.columns:
                values = pd.to_numeric(pre[col], errors="coerce").astype("float64")
                out[f"pre_{col}"] = values.reindex(out.index).fillna(0.0).to_numpy()
    out.index.name = "customer_id"
    return out.reset_index()


# -- statistics ------------------------------------------------------------------------------
def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def _ratio_ci(est_t: float, est_c: float, var_t: float, var_c: float, z: float) -> tuple[float, float, float]:
    """Relative lift t/c - 1 and its CI, by the delta method on log(t/c) (independent arms)."""
    if est_t <= 0 or est_c <= 0:
        return (est_t / est_c - 1 if est_c > 0 else math.nan), math.nan, math.nan
    se = math.sqrt(var_t / est_t**2 + var_c / est_c**2)
    lift = est_t / est_c - 1
    return lift, math.exp(math.log(est_t / est_c) - z * se) - 1, math.exp(math.log(est_t / est_c) + z * se) - 1


def proportion_ztest(x_t: int, n_t: int, x_c: int, n_c: int, alpha: float = 0.05) -> dict[str, float]:
    """Two-proportion z-test (pooled variance for the p-value, unpooled for the CI)."""
    from statsmodels.stats.proportion import proportions_ztest

    p_t, p_c = x_t / n_t, x_c / n_c
    z = _z(alpha)
    if 0 < x_t + x_c < n_t + n_c:
        stat, p = proportions_ztest([x_t, x_c], [n_t, n_c])
    else:  # all or nothing in both arms: no evidence of a difference
        stat, p = 0.0, 1.0
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    lift, lo, hi = _ratio_ci(p_t, p_c, p_t * (1 - p_t) / n_t, p_c * (1 - p_c) / n_c, z)
    return {
        "control_value": p_c, "treatment_value": p_t, "diff": p_t - p_c, "diff_low": p_t - p_c - z * se,
        "diff_high": p_t - p_c + z * se, "lift": lift, "lift_low": lo, "lift_high": hi,
        "statistic": float(stat), "p_value": float(p), "test": "two-proportion z-test",
    }  # fmt: skip


def welch_test(y_t: np.ndarray, y_c: np.ndarray, alpha: float = 0.05, test: str = "Welch t-test") -> dict[str, float]:
    """Welch's t-test on a per-customer metric, with CIs for the difference and the relative lift."""
    from scipy import stats

    y_t, y_c = np.asarray(y_t, float), np.asarray(y_c, float)
    m_t, m_c = float(y_t.mean()), float(y_c.mean())
    v_t, v_c = float(y_t.var(ddof=1)) / len(y_t), float(y_c.var(ddof=1)) / len(y_c)
    se = math.sqrt(v_t + v_c)
    if se > 0:
        res = stats.ttest_ind(y_t, y_c, equal_var=False)
        stat, p = float(res.statistic), float(res.pvalue)
        df = (v_t + v_c) ** 2 / (v_t**2 / (len(y_t) - 1) + v_c**2 / (len(y_c) - 1))
        t = float(stats.t.ppf(1 - alpha / 2, df))
    else:
        stat, p, t = 0.0, 1.0, _z(alpha)
    lift, lo, hi = _ratio_ci(m_t, m_c, v_t, v_c, t)
    return {
        "control_value": m_c, "treatment_value": m_t, "diff": m_t - m_c, "diff_low": m_t - m_c - t * se,
        "diff_high": m_t - m_c + t * se, "lift": lift, "lift_low": lo, "lift_high": hi,
        "statistic": stat, "p_value": p, "test": test,
    }  # fmt: skip


def bootstrap_mean_diff(
    y_t: np.ndarray, y_c: np.ndarray, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
) -> dict[str, float]:
    """Percentile bootstrap CI of the difference and the relative lift of two means, resampling customers."""
    rng = np.random.default_rng(seed)
    y_t, y_c = np.asarray(y_t, float), np.asarray(y_c, float)
    diffs, lifts = np.empty(n_boot), np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(len(y_t) + len(y_c), 1))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        mt = y_t[rng.integers(0, len(y_t), size=(b, len(y_t)))].mean(axis=1)
        mc = y_c[rng.integers(0, len(y_c), size=(b, len(y_c)))].mean(axis=1)
        diffs[start : start + b] = mt - mc
        with np.errstate(divide="ignore", invalid="ignore"):
            lifts[start : start + b] = mt / mc - 1
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    d_lo, d_hi = np.percentile(diffs, q)
    l_lo, l_hi = np.nanpercentile(lifts, q) if np.isfinite(lifts).any() else (math.nan, math.nan)
    # two-sided bootstrap p-value: how often the resampled difference falls on the other side of zero
    p = min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()))
    return {"diff_low": float(d_lo), "diff_high": float(d_hi), "lift_low": float(l_lo), "lift_high": float(l_hi),
            "p_value": float(p), "n_boot": int(n_boot)}  # fmt: skip


def cuped_adjust(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """CUPED: ``y - theta * (x - mean(x))`` with ``theta = cov(x, y) / var(x)``; returns (adjusted, theta, rho²)."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    var_x = float(x.var(ddof=1)) if len(x) > 1 else 0.0
    if var_x <= 0:
        return y.copy(), 0.0, 0.0
    cov = float(np.cov(x, y, ddof=1)[0, 1])
    theta = cov / var_x
    var_y = float(y.var(ddof=1))
    rho2 = cov**2 / (var_x * var_y) if var_y > 0 else 0.0
    return y - theta * (x - x.mean()), theta, rho2


def ratio_metric(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """A ratio of sums over customers (e.g. AOV = revenue / orders) and its variance by the delta method."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    n = len(num)
    mu_n, mu_d = num.mean(), den.mean()
    if n < 2 or mu_d <= 0:
        return (math.nan, math.nan)
    r = mu_n / mu_d
    cov = np.cov(num, den, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]) / (n * mu_d**2)
    return float(r), float(max(var, 0.0))


def srm_check(counts: dict[str, int], expected_split: dict[str, float] | None = None) -> dict[str, Any]:
    """Chi-square goodness of fit of customers per variant against the planned split (equal by default)."""
    from scipy.stats import chisquare

    names = sorted(set(counts) | set(expected_split or {}))
    observed = np.array([counts.get(v, 0) for v in names], float)
    if expected_split:
        unplanned = sorted(set(counts) - set(expected_split))
        if unplanned:
            raise InputError(f"--split does not plan variant(s) {', '.join(unplanned)} seen in the events")
        shares = np.array([expected_split[v] for v in names], float)
    else:
        shares = np.ones(len(names))
    shares = shares / shares.sum()
    expected = shares * observed.sum()
    stat, p = chisquare(observed, expected) if len(names) > 1 else (0.0, 1.0)
    return {
        "observed": {v: int(c) for v, c in zip(names, observed, strict=True)},
        "expected": {v: float(e) for v, e in zip(names, expected, strict=True)},
        "statistic": float(stat), "p_value": float(p), "threshold": SRM_THRESHOLD, "ok": bool(p >= SRM_THRESHOLD),
    }  # fmt: skip


# -- the whole analysis ------------------------------------------------------------------------
@dataclass
class AbResult:
    """Everything :func:`analyze` found; :meth:`to_dict` is the JSON the CLI writes."""

    control: str
    treatments: list[str]
    alpha: float
    primary: str
    variants: pd.DataFrame  # one row per variant
    comparisons: pd.DataFrame  # one row per (treatment, metric)
    guardrails: pd.DataFrame  # one row per (treatment, guardrail)
    srm: dict[str, Any]
    cuped: dict[str, Any]
    customers: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)

    def comparison(self, treatment: str, metric: str) -> dict[str, Any]:
        rows = self.comparisons[(self.comparisons["treatment"] == treatment) & (self.comparisons["metric"] == metric)]
        if rows.empty:
            raise KeyError((treatment, metric))
        return rows.iloc[0].to_dict()

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(frame.to_json(orient="records", date_format="iso"))

        return {
            "control": self.control, "treatments": self.treatments, "alpha": self.alpha, "primary": self.primary,
            "variants": records(self.variants), "comparisons": records(self.comparisons),
            "guardrails": records(self.guardrails), "srm": self.srm, "cuped": self.cuped, "notes": self.notes,
        }  # fmt: skip


def variant_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Per variant: exposed customers, conversion, orders and revenue per customer, AOV, CTR."""
    g = customers.groupby("variant", sort=True)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "impressions": g["impressions"].sum(),
            "clicks": g["clicks"].sum(),
            "orders": g["orders"].sum(),
            "revenue": g["revenue"].sum(),
            "conversion": g["converted"].mean(),
            "orders_per_customer": g["orders"].mean(),
            "revenue_per_customer": g["revenue"].mean(),
        }
    )
    out["aov"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    out["ctr"] = out["clicks"] / out["impressions"].where(out["impressions"] > 0)
    return out.reset_index()


def analyze(
    events: pd.DataFrame,
    control: str | None = None,
    alpha: float = 0.05,
    pre_period: pd.Series | pd.DataFrame | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    expected_split: dict[str, float] | None = None,
    primary: str = "orders_per_customer",
    aov_margin: float = 0.05,
    latency_margin: float = 0.20,
) -> AbResult:
    """Analyse an events frame: every treatment variant against ``control``.

    ``alpha`` is split over the treatments (Bonferroni) when there are several. ``aov_margin`` and
    ``latency_margin`` are the relative deteriorations a guardrail tolerates. With ``pre_period`` (see
    :func:`customer_outcomes`) revenue and orders also get a CUPED-adjusted test (``<metric>_cuped`` rows).
    """
    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1, got {alpha}")
    if primary not in PRIMARY_CHOICES:
        raise InputError(f"--primary must be one of {', '.join(PRIMARY_CHOICES)}, got {primary!r}")
    customers = customer_outcomes(events, pre_period)
    names = sorted(customers["variant"].unique())
    if len(names) < 2:
        raise InputError(f"events: need at least two variants to compare, found {', '.join(names) or 'none'}")
    if control is None:
        control = "control" if "control" in names else names[0]
    if control not in names:
        raise InputError(f"--control {control!r} is not a variant in the events (have {', '.join(names)})")
    treatments = [v for v in names if v != control]
    a = alpha / len(treatments)
    notes: list[str] = []
    if len(treatments) > 1:
        notes.append(f"{len(treatments)} treatments: each is tested at alpha/{len(treatments)} = {a:.4f} (Bonferroni).")
    crossed = int((customers["variants_seen"] > 1).sum())
    if crossed:
        notes.append(f"{crossed} customers saw more than one variant (assignment not sticky); counted in their first.")

    variants = variant_summary(customers)
    ctl = customers[customers["variant"] == control]
    cuped_info: dict[str, Any] = {"available": False}
    adjusted: dict[str, pd.Series] = {}
    for metric, (col, cov) in CUPED_COVARIATES.items():
        if cov in customers.columns and customers[cov].var() > 0:
            adj, theta, rho2 = cuped_adjust(customers[col].to_numpy(), customers[cov].to_numpy())
            adjusted[metric] = pd.Series(adj, index=customers.index)
            cuped_info[metric] = {"covariate": cov, "theta": theta, "variance_reduction": rho2}
    if adjusted:
        cov_cols = [c for c in ("pre_spend", "pre_orders") if c in customers.columns]
        cuped_info["available"] = True
        cuped_info["customers_with_history"] = int((customers[cov_cols] > 0).any(axis=1).sum())
    elif pre_period is not None:
        notes.append("CUPED skipped: no exposed customer has pre-period orders.")

    rows: list[dict[str, Any]] = []
    guards: list[dict[str, Any]] = []
    for trt in treatments:
        tr = customers[customers["variant"] == trt]
        if len(tr) < 2 or len(ctl) < 2:
            raise InputError(f"events: variants {control!r} and {trt!r} need at least 2 exposed customers each")
        res = proportion_ztest(int(tr["converted"].sum()), len(tr), int(ctl["converted"].sum()), len(ctl), a)
        rows.append({"treatment": trt, "metric": "conversion", **res})
        rows.append({"treatment": trt, "metric": "orders_per_customer",
                     **welch_test(tr["orders"].to_numpy(), ctl["orders"].to_numpy(), a)})  # fmt: skip
        rev = welch_test(tr["revenue"].to_numpy(), ctl["revenue"].to_numpy(), a)
        if n_boot > 0:
            boot = bootstrap_mean_diff(tr["revenue"].to_numpy(), ctl["revenue"].to_numpy(), n_boot, a, seed)
            rev.update({f"boot_{k}": v for k, v in boot.items()})
        rows.append({"treatment": trt, "metric": "revenue_per_customer", **rev})
        for metric, adj in adjusted.items():
            raw = next(r for r in rows if r["treatment"] == trt and r["metric"] == metric)
            cup = welch_test(adj[tr.index].to_numpy(), adj[ctl.index].to_numpy(), a, "Welch t-test (CUPED)")
            # the adjusted means equal the raw means in expectation; express the lift relative to raw control
            base = raw["control_value"]
            cup["control_value"], cup["treatment_value"] = base, base + cup["diff"]
            if base > 0:
                for key in ("", "_low", "_high"):
                    cup[f"lift{key}"] = cup[f"diff{key}"] / base
            rows.append({"treatment": trt, "metric": f"{metric}_cuped", **cup})
        guards.append(_aov_guardrail(tr, ctl, trt, a, aov_margin))
        guards.extend(_event_guardrails(events, control, trt, a, latency_margin))

    comparisons = pd.DataFrame(rows)
    comparisons["significant"] = comparisons["p_value"] < a
    srm = srm_check(dict(zip(variants["variant"], variants["customers"], strict=True)), expected_split)
    return AbResult(control, treatments, alpha, primary, variants, comparisons, pd.DataFrame(guards), srm,
                    cuped_info, customers, notes)  # fmt: skip


def _guard_status(lift: float, low: float, high: float, margin: float, higher_is_worse: bool = False) -> str:
    """ok: the CI rules out a deterioration beyond ``margin``; breached: significantly worse by more than the margin."""
    if any(math.isnan(v) for v in (lift, low, high)):
        return "n/a"
    if higher_is_worse:
        lift, low, high = -lift, -high, -low
    if low > -margin:
        return "ok"
    if high < 0 and lift < -margin:
        return "breached"
    return "inconclusive"


def _aov_guardrail(tr: pd.DataFrame, ctl: pd.DataFrame, trt: str, alpha: float, margin: float) -> dict[str, Any]:
    r_t, v_t = ratio_metric(tr["revenue"].to_numpy(), tr["orders"].to_numpy())
    r_c, v_c = ratio_metric(ctl["revenue"].to_numpy(), ctl["orders"].to_numpy())
    if math.isnan(r_t) or math.isnan(r_c):
        lift = low = high = math.nan
    else:
        lift, low, high = _ratio_ci(r_t, r_c, v_t, v_c, _z(alpha))
    return {"treatment": trt, "guardrail": "average order value", "control_value": r_c, "treatment_value": r_t,
            "lift": lift, "lift_low": low, "lift_high": high, "margin": margin,
            "status": _guard_status(lift, low, high, margin)}  # fmt: skip


def _event_guardrails(events: pd.DataFrame, control: str, trt: str, alpha: float, margin: float) -> list[dict]:
    """Latency (a ``latency_ms`` column) and error rate (an ``error`` flag column) per variant, when present."""
    out: list[dict[str, Any]] = []
    imp = events[events["type"].astype(str).str.lower() == "impression"]
    if "latency_ms" in events.columns:
        lat = pd.to_numeric(imp["latency_ms"], errors="coerce")
        a, b = lat[imp["variant"] == trt].dropna().to_numpy(), lat[imp["variant"] == control].dropna().to_numpy()
        if len(a) > 1 and len(b) > 1:
            res = welch_test(a, b, alpha)
            status = _guard_status(res["lift"], res["lift_low"], res["lift_high"], margin, higher_is_worse=True)
            out.append({"treatment": trt, "guardrail": "mean latency (ms)", "control_value": res["control_value"],
                        "treatment_value": res["treatment_value"], "lift": res["lift"], "lift_low": res["lift_low"],
                        "lift_high": res["lift_high"], "margin": margin,
                        "status": status})  # fmt: skip
    err_col = "error" if "error" in events.columns else None
    if err_col:
        flag = pd.to_numeric(imp[err_col], errors="coerce").fillna(0).gt(0)
        n_t, n_c = int((imp["variant"] == trt).sum()), int((imp["variant"] == control).sum())
        x_t, x_c = int(flag[imp["variant"] == trt].sum()), int(flag[imp["variant"] == control].sum())
        if n_t and n_c:
            res = proportion_ztest(x_t, n_t, x_c, n_c, alpha)
            # error rates are near zero: judge the absolute difference (0.5 percentage points)
            status = "ok" if res["diff_high"] < 0.005 else ("breached" if res["diff_low"] > 0 else "inconclusive")
            out.append({"treatment": trt, "guardrail": "error rate", "control_value": res["control_value"],
                        "treatment_value": res["treatment_value"], "lift": res["lift"], "lift_low": res["lift_low"],
                        "lift_high": res["lift_high"], "margin": 0.005, "status": status})  # fmt: skip
    return out


def truth_check(result: AbResult, truth: dict[str, Any]) -> pd.DataFrame:
    """Estimated lifts next to the simulator's true lifts (``foodrec simulate --out``): does each CI cover the truth?"""
    rows = []
    for trt, lifts in (truth.get("true_lift") or {}).items():
        for metric in ("orders_per_customer", "conversion", "revenue_per_customer"):
            true = lifts.get(metric)
            if true is None:
                continue
            for name in (metric, f"{metric}_cuped"):
                try:
                    est = result.comparison(trt, name)
                except KeyError:
                    continue
                rows.append({"treatment": trt, "metric": name, "true_lift": true,
                             "true_lift_se": lifts.get(f"{metric}_se"), "estimated_lift": est["lift"],
                             "lift_low": est["lift_low"], "lift_high": est["lift_high"],
                             "covers_truth": bool(est["lift_low"] <= true <= est["lift_high"])})  # fmt: skip
    return pd.DataFrame(rows)


# -- synthetic events for tests, docs and the calibration benchmark ------------------------------
PROPENSITY_CAP = 0.9  # propensities stay below this, so lifts up to 1/0.9 - 1 = 11% apply exactly


def synthetic_customers(
    n_customers: int = 2000, lift: float = 0.0, base_conversion: float = 0.3, seed: int = 0, split: float = 0.5
) -> dict[str, np.ndarray]:
    """Per-customer outcomes of a simulated experiment (arrays): ``arm`` (1 = treatment), ``converted``,
    ``orders``, ``revenue``, ``pre_orders``, ``pre_spend`` and the order values ``order_owner`` / ``order_value``.

    Each customer has a propensity ``prop`` (a Beta scaled to at most 0.9, mean ``base_conversion``) that drives
    the pre-period and the test period alike, so CUPED has something to remove. The treatment multiplies the
    chance to order by ``1 + lift``: conversion and orders per customer rise by exactly ``lift`` (for
    lift <= 11%), revenue per customer too (order values do not depend on the arm).
    """
    rng = np.random.default_rng(seed)
    arm = (rng.random(n_customers) < split).astype(np.int64)
    mean = base_conversion / PROPENSITY_CAP
    if not 0 < mean < 1:
        raise InputError(f"base conversion must be between 0 and {PROPENSITY_CAP}, got {base_conversion}")
    strength = 2.0
    prop = PROPENSITY_CAP * rng.beta(mean * strength, (1 - mean) * strength, n_customers)
    p = np.clip(prop * np.where(arm == 1, 1 + lift, 1.0), 0, 1)
    pre_orders = rng.poisson(prop * 4)
    pre_spend = pre_orders * rng.lognormal(3.2, 0.4, n_customers)
    orders = np.where(rng.random(n_customers) < p, 1 + rng.poisson(prop * 0.8), 0)
    owner = np.repeat(np.arange(n_customers), orders)
    values = rng.lognormal(3.4, 0.5, len(owner))
    revenue = np.bincount(owner, weights=values, minlength=n_customers)
    return {"arm": arm, "converted": (orders > 0).astype(np.int64), "orders": orders, "revenue": revenue,
            "pre_orders": pre_orders, "pre_spend": pre_spend, "order_owner": owner, "order_value": values}  # fmt: skip


def synthetic_events(
    n_customers: int = 2000,
    lift: float = 0.0,
    base_conversion: float = 0.3,
    seed: int = 0,
    variants: tuple[str, str] = ("control", "treatment"),
    split: float = 0.5,
    with_pre_period: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Events (one impression per customer, their orders) of :func:`synthetic_customers`.

    With ``with_pre_period`` returns ``(events, pre_period)`` (columns spend, orders, indexed by customer id).
    """
    c = synthetic_customers(n_customers, lift, base_conversion, seed, split)
    rng = np.random.default_rng([seed, 1])
    ids = np.array([f"c{i}" for i in range(n_customers)], dtype=object)
    t0 = pd.Timestamp("2026-03-01T11:00Z")
    exposure = t0 + pd.to_timedelta(rng.integers(0, 14 * 86400, n_customers), unit="s")
    names = np.array(variants, dtype=object)[c["arm"]]
    who = c["order_owner"]
    events = pd.concat([
        pd.DataFrame({"event_id": [f"i-{x}" for x in ids], "type": "impression", "customer_id": ids,
                      "variant": names, "occurred_at": exposure, "order_value": np.nan}),
        pd.DataFrame({"event_id": [f"o-{i}" for i in range(len(who))], "type": "order", "customer_id": ids[who],
                      "variant": names[who], "occurred_at": exposure[who] + pd.Timedelta(minutes=5),
                      "order_value": c["order_value"]}),
    ], ignore_index=True)  # fmt: skip
    if with_pre_period:
        return events, pd.DataFrame({"spend": c["pre_spend"], "orders": c["pre_orders"]}, index=ids)
    return events
