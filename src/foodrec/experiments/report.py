"""The A/B report: one self-contained HTML page with the decision first, then the evidence and its plots.

>>> from foodrec.experiments.analysis import analyze, synthetic_events
>>> from foodrec.experiments.decision import decide
>>> result = analyze(synthetic_events(2000, lift=0.1, seed=1), n_boot=100)
>>> html = build_report(result, decide(result, mde=0.05), mde=0.05).render()
>>> "Decision" in html and html.count("data:image/png") >= 4
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from foodrec.experiments.analysis import METRICS, AbResult
from foodrec.experiments.decision import ROLL_OUT, STOP, Decision
from foodrec.reports.html import HtmlReport

_LABELS = {**{k: v[0] for k, v in METRICS.items()}, **{f"{k}_cuped": f"{v[0]} (CUPED)" for k, v in METRICS.items()}}


def build_report(
    result: AbResult, decision: Decision, mde: float, title: str = "A/B test", truth: Any = None
) -> HtmlReport:
    """Assemble the report (plots use matplotlib's Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    report = HtmlReport(title, subtitle=f"control: {result.control}; treatments: {', '.join(result.treatments)}")
    kind = {ROLL_OUT: "good", STOP: "bad"}.get(decision.action, "warn")
    target = f" {decision.variant}" if decision.variant else ""
    report.section("Decision", anchor="decision")
    report.note(f"{decision.action.upper()}{target}", kind=kind)
    report.raw("<ul>" + "".join(f"<li>{_esc(r)}</li>" for r in decision.reasons) + "</ul>")
    report.paragraph(
        "How to read this: each customer counts once, in the variant of the first recommendations they saw. "
        f"The decision rests on one metric fixed in advance, {_LABELS.get(result.primary, result.primary)}; "
        "conversion is the share of exposed customers who ordered at least once. A 95% confidence interval (CI) "
        "is the range of lifts compatible with the data; when it excludes 0 the difference is called significant. "
        "CUPED rows are the same comparison with the noise explained by each customer's orders before the test "
        "removed."
    )

    report.section("Variants", "Exposed customers and what they did, per variant.")
    shown = result.variants.rename(columns={"aov": "average order value", "ctr": "click-through rate"})
    report.table(shown)
    report.figure(_bars(result), caption="Conversion and revenue per exposed customer, with 95% CIs")

    report.section("Lift against control", "Relative change of each metric, with its test and 95% CI.")
    cols = ["treatment", "metric", "control_value", "treatment_value", "lift", "lift_low", "lift_high", "p_value",
            "test", "significant"]  # fmt: skip
    comps = result.comparisons[cols].copy()
    comps["metric"] = comps["metric"].map(lambda m: _LABELS.get(m, m))
    report.table(comps)
    report.figure(_forest(result), caption="Relative lift with 95% CI (the dotted line is no change)")
    if "boot_diff_low" in result.comparisons.columns:
        rev = result.comparisons[result.comparisons["metric"] == "revenue_per_customer"]
        for r in rev.itertuples():
            report.paragraph(
                f"{r.treatment}: bootstrap 95% CI of the revenue difference per customer "
                f"{r.boot_diff_low:+.2f} to {r.boot_diff_high:+.2f} ({int(r.boot_n_boot)} resamples), "
                f"Welch {r.diff_low:+.2f} to {r.diff_high:+.2f}."
            )
    if result.cuped.get("available"):
        parts = [f"{_LABELS[m]} by {info['variance_reduction']:.0%} (theta {info['theta']:.3f})"
                 for m, info in result.cuped.items() if isinstance(info, dict)]  # fmt: skip
        report.paragraph(
            "CUPED uses each customer's orders and spend before the test to remove noise that has nothing to do "
            f"with the variant: variance reduced for {'; '.join(parts)}; "
            f"{result.cuped['customers_with_history']} exposed customers had history."
        )
    else:
        report.paragraph("CUPED not applied: no pre-period spend (pass --store with the order log).")
    report.figure(_over_time(result), caption="Cumulative conversion by day of first exposure")

    report.section("Sample ratio and guardrails")
    srm = result.srm
    kind = "good" if srm["ok"] else "bad"
    obs = ", ".join(f"{k}: {v} (expected {srm['expected'][k]:.0f})" for k, v in srm["observed"].items())
    report.note(f"Sample-ratio check: {obs}; chi-square p = {srm['p_value']:.3g} "
                f"({'as planned' if srm['ok'] else 'MISMATCH'}).", kind=kind)  # fmt: skip
    if len(result.guardrails):
        report.table(result.guardrails)
    report.paragraph(
        "A guardrail is a metric that must not get worse: 'ok' means the CI rules out a loss beyond the margin, "
        "'breached' means significantly worse by more than the margin."
    )

    report.section("Power", "How many customers the test needs to see the minimum detectable effect (MDE).")
    detail = decision.power_detail
    if decision.required_per_arm:
        report.paragraph(
            f"Primary metric {_LABELS.get(result.primary, result.primary)}: to detect a {mde:.0%} relative lift at "
            f"alpha {detail['alpha_per_test']:.3g} with {detail['power_target']:.0%} power the test needs "
            f"{decision.required_per_arm:,} customers per arm; it has {decision.current_per_arm:,} "
            f"(power now {decision.achieved_power:.0%})."
        )
        report.figure(_power_curve(result, decision, mde), caption="Power against customers per arm")
    else:
        report.paragraph(f"Not sized: {detail.get('error', 'no baseline')}")
    if truth:
        from foodrec.experiments.analysis import truth_check

        report.section("Ground truth (simulation)", "The simulator knows what each variant really does.")
        check = truth_check(result, truth)
        if len(check):
            check["metric"] = check["metric"].map(lambda m: _LABELS.get(m, m))
            report.table(check, caption="True lift (from the choice model) against the estimate and its 95% CI")
        best = truth.get("best_variant")
        if best:
            report.paragraph(f"Truly better variant (higher chance of an order per visit): {best}.")
        latency = truth.get("latency_ms") or {}
        if isinstance(latency, dict) and latency:
            frame = pd.DataFrame([{"variant": v, **x} for v, x in sorted(latency.items()) if isinstance(x, dict)])
            report.table(frame, caption="Response time seen by the simulated customers (ms), per variant")
        summary = f"<pre>{_esc(_fmt_truth(truth))}</pre>"
        report.raw(f"<details><summary>simulation summary (JSON)</summary>{summary}</details>")
    if result.notes:
        report.section("Notes")
        report.raw("<ul>" + "".join(f"<li>{_esc(n)}</li>" for n in result.notes) + "</ul>")
    return report


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))


def _fmt_truth(truth: Any) -> str:
    import json

    return json.dumps(truth, indent=2, default=str)[:4000]


def _bars(result: AbResult):
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    z = float(norm.ppf(0.975))
    c = result.customers
    g = c.groupby("variant")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, col, label in ((axes[0], "converted", "conversion"), (axes[1], "revenue", "revenue per customer")):
        mean, se = g[col].mean(), g[col].std(ddof=1) / np.sqrt(g.size())
        colors = ["#888" if v == result.control else "#2a7" for v in mean.index]
        ax.bar(mean.index.astype(str), mean.to_numpy(), yerr=z * se.fillna(0).to_numpy(), color=colors, capsize=4)
        ax.set_title(label)
    fig.tight_layout()
    return fig


def _forest(result: AbResult):
    import matplotlib.pyplot as plt

    comps = result.comparisons.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(comps) + 1.2))
    y = np.arange(len(comps))[::-1]
    lift = comps["lift"].to_numpy(float) * 100
    lo = np.nan_to_num(lift - comps["lift_low"].to_numpy(float) * 100)
    hi = np.nan_to_num(comps["lift_high"].to_numpy(float) * 100 - lift)
    sig_diff = zip(comps["significant"], comps["diff"], strict=True)
    colors = ["#2a7" if s and d > 0 else "#c33" if s else "#888" for s, d in sig_diff]
    for i in range(len(comps)):
        ax.errorbar(lift[i], y[i], xerr=[[lo[i]], [hi[i]]], fmt="none", ecolor=colors[i], capsize=3)
    ax.scatter(lift, y, c=colors, zorder=3)
    ax.axvline(0, color="#444", linestyle=":")
    ax.set_yticks(y, [f"{t}: {_LABELS.get(m, m)}" for t, m in zip(comps["treatment"], comps["metric"], strict=True)])
    ax.set_xlabel("lift over control (%)")
    fig.tight_layout()
    return fig


def _over_time(result: AbResult):
    import matplotlib.pyplot as plt

    c = result.customers.dropna(subset=["first_exposure"]).copy()
    fig, ax = plt.subplots(figsize=(8, 3))
    if c.empty:
        ax.text(0.5, 0.5, "no exposure times", ha="center")
        return fig
    c["day"] = pd.to_datetime(c["first_exposure"], utc=True).dt.floor("D")
    for variant, grp in c.groupby("variant"):
        daily = grp.groupby("day")["converted"].agg(["sum", "size"]).cumsum()
        ax.plot(daily.index, daily["sum"] / daily["size"], marker=".", label=str(variant))
    ax.set_ylabel("cumulative conversion")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _power_curve(result: AbResult, decision: Decision, mde: float):
    import matplotlib.pyplot as plt

    from foodrec.experiments.power import power_mean, power_proportion

    d = decision.power_detail
    need = decision.required_per_arm or 100
    ns = np.unique(np.linspace(10, max(need, decision.current_per_arm) * 1.5, 60).astype(int))
    if result.primary == "conversion":
        pw = [power_proportion(d["baseline"], mde, n, d["alpha_per_test"]) for n in ns]
    else:
        pw = [power_mean(d["baseline"], d["sd"], mde, n, d["alpha_per_test"]) for n in ns]
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(ns, pw, color="#36c")
    ax.axhline(d["power_target"], color="#888", linestyle=":")
    ax.axvline(decision.current_per_arm, color="#d90", label=f"now: {decision.current_per_arm:,}")
    ax.axvline(need, color="#2a7", linestyle="--", label=f"needed: {need:,}")
    ax.set_xlabel("customers per arm")
    ax.set_ylabel(f"power for a {mde:.0%} lift")
    ax.legend()
    fig.tight_layout()
    return fig
