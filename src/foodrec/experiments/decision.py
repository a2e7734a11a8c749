"""From an analysis to a decision: roll out, keep running (and for how many more customers), or stop.

Rules, in order (the first that applies wins):

1. sample-ratio mismatch → **stop**: the assignment is broken, so no number can be trusted
2. a guardrail breached (e.g. average order value significantly down by more than its margin) → **stop**
3. the primary metric significantly *worse* → **stop** and keep control
4. the primary metric significantly better → **roll out** the best such treatment
5. not significant and fewer customers than the sample size for the MDE → **keep running**, with the number
   of customers still needed
6. not significant with enough customers → **stop**: no effect as large as the MDE, keep control

>>> from foodrec.experiments.analysis import analyze, synthetic_events
>>> d = decide(analyze(synthetic_events(3000, lift=0.0, seed=2), n_boot=0), mde=0.05)   # orders per customer
>>> d.action, d.more_customers > 0
('keep running', True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from foodrec.experiments.analysis import AbResult
from foodrec.experiments.power import power_mean, power_proportion, sample_size_mean, sample_size_proportion

ROLL_OUT, KEEP_RUNNING, STOP = "roll out", "keep running", "stop"


@dataclass
class Decision:
    """The action, the variant it concerns, and the reasons in plain words."""

    action: str
    variant: str | None
    reasons: list[str]
    required_per_arm: int | None = None
    current_per_arm: int = 0
    more_customers: int = 0  # in total, over all arms, to reach required_per_arm in the smallest arm
    achieved_power: float | None = None
    power_detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan(result: AbResult, mde: float, power: float = 0.8) -> dict[str, Any]:
    """Sample size per arm for the primary metric at the observed control baseline, and the power reached now."""
    a = result.alpha / max(len(result.treatments), 1)
    ctl = result.variants.set_index("variant").loc[result.control]
    cust = result.customers
    arms = result.variants["customers"]
    n_now = int(arms.min())
    info: dict[str, Any] = {"metric": result.primary, "mde": mde, "alpha_per_test": a, "power_target": power}
    try:
        if result.primary == "conversion":
            p0 = float(ctl["conversion"])
            info["baseline"] = p0
            info["required_per_arm"] = sample_size_proportion(p0, mde, a, power)
            info["achieved_power"] = power_proportion(p0, mde, n_now, a)
        else:
            col = "revenue" if result.primary == "revenue_per_customer" else "orders"
            y = cust.loc[cust["variant"] == result.control, col]
            mean, sd = float(y.mean()), float(y.std(ddof=1))
            if result.primary in result.cuped:
                # CUPED shrinks the variance by rho²: the test needs that many fewer customers
                sd *= math.sqrt(max(1 - result.cuped[result.primary]["variance_reduction"], 1e-6))
                info["cuped"] = True
            info.update(baseline=mean, sd=sd)
            info["required_per_arm"] = sample_size_mean(mean, sd, mde, a, power)
            info["achieved_power"] = power_mean(mean, sd, mde, n_now, a)
    except Exception as err:  # noqa: BLE001 - a degenerate baseline (0% conversion): say so instead of sizing
        info["error"] = str(err)
    info["current_per_arm"] = n_now
    return info


def decide(result: AbResult, mde: float = 0.05, power: float = 0.8) -> Decision:
    """Apply the rules in this module's docstring to ``result``."""
    sizing = plan(result, mde, power)
    need = sizing.get("required_per_arm")
    n_now = sizing["current_per_arm"]
    n_arms = len(result.variants)
    more = max(0, (need - n_now) * n_arms) if need else 0
    common = {"required_per_arm": need, "current_per_arm": n_now, "achieved_power": sizing.get("achieved_power"),
              "power_detail": sizing}  # fmt: skip
    reasons: list[str] = []
    srm = result.srm
    if not srm["ok"]:
        obs = ", ".join(f"{k} {v}" for k, v in srm["observed"].items())
        return Decision(STOP, None, [
            f"sample-ratio mismatch: customers per variant ({obs}) are too far from the planned split "
            f"(chi-square p = {srm['p_value']:.2g} < {srm['threshold']}); the assignment or logging is broken, "
            "fix it and restart the test"], **common)  # fmt: skip
    breached = result.guardrails[result.guardrails["status"] == "breached"] if len(result.guardrails) else []
    if len(breached):
        why = [f"guardrail breached for {r.treatment}: {r.guardrail} changed by {r.lift:+.1%} "
               f"(CI {r.lift_low:+.1%} to {r.lift_high:+.1%}, tolerated {-r.margin:.0%})"
               for r in breached.itertuples()]  # fmt: skip
        return Decision(STOP, None, [*why, "keep control"], **common)

    metric = result.primary
    if (result.comparisons["metric"] == f"{metric}_cuped").any():
        metric = f"{metric}_cuped"  # the same comparison with less noise
    label = metric.replace("_cuped", " (CUPED)").replace("_", " ")
    comps = result.comparisons[result.comparisons["metric"] == metric]
    worse = comps[comps["significant"] & (comps["diff"] < 0)]
    better = comps[comps["significant"] & (comps["diff"] > 0)]
    if len(better):
        best = better.sort_values("lift", ascending=False).iloc[0]
        reasons.append(
            f"{best['treatment']} raises {label} by {best['lift']:+.1%} (95% CI {best['lift_low']:+.1%} to "
            f"{best['lift_high']:+.1%}, {best['test']}, p = {best['p_value']:.2g})"
        )
        reasons.extend(_secondary(result, best["treatment"]))
        reasons.append("sample ratio is as planned and no guardrail is breached")
        if len(worse):
            reasons.append(f"other treatments were significantly worse: {', '.join(worse['treatment'])}")
        return Decision(ROLL_OUT, str(best["treatment"]), reasons, **common)
    if len(worse):
        r = worse.sort_values("lift").iloc[0]
        return Decision(STOP, None, [
            f"{r['treatment']} lowers {label} by {r['lift']:+.1%} (95% CI {r['lift_low']:+.1%} to "
            f"{r['lift_high']:+.1%}, p = {r['p_value']:.2g}); keep control"], **common)  # fmt: skip
    summary = "; ".join(
        f"{r['treatment']}: {r['lift']:+.1%} (CI {r['lift_low']:+.1%} to {r['lift_high']:+.1%}, p = {r['p_value']:.2g})"
        for _, r in comps.iterrows()
    )
    reasons.append(f"no significant change in {label} yet ({summary})")
    if need is None:
        reasons.append(f"cannot size the test: {sizing.get('error', 'degenerate baseline')}")
        return Decision(KEEP_RUNNING, None, reasons, **common)
    if n_now < need:
        reasons.append(
            f"{n_now:,} customers per arm of the {need:,} needed to detect a {mde:.0%} lift with "
            f"{power:.0%} power (power now {sizing['achieved_power']:.0%}): about {more:,} more customers in total"
        )
        return Decision(KEEP_RUNNING, None, reasons, more_customers=more, **common)
    reasons.append(
        f"with {n_now:,} customers per arm (≥ {need:,} needed) the test had {power:.0%} power for a {mde:.0%} lift: "
        "any effect is smaller than that, keep control"
    )
    return Decision(STOP, None, reasons, **common)


def _secondary(result: AbResult, treatment: str) -> list[str]:
    out = []
    for metric in ("conversion", "orders_per_customer", "revenue_per_customer"):
        if metric == result.primary:
            continue
        if (result.comparisons["metric"] == f"{metric}_cuped").any():
            metric = f"{metric}_cuped"
        try:
            r = result.comparison(treatment, metric)
        except KeyError:
            continue
        label = metric.replace("_cuped", " (CUPED)").replace("_", " ")
        out.append(f"{label}: {r['lift']:+.1%} (CI {r['lift_low']:+.1%} to {r['lift_high']:+.1%})")
    return out
