"""The stakeholder report's two-stage experiment: each stage's decision beside the paired truth, and its customers.

Stage 1 (interleaving, ``foodrec abtest`` on an interleaving experiment: ``interleaving.json``) picks the ranking
customers prefer; stage 2 (the A/B test, ``abtest.json``, read sequentially) measures orders per customer. In a
simulation, the paired truth of each stage (``truth.paired_true_lift``, every visit priced under every list) says
whether the decision was right.

>>> from foodrec.reports.html import HtmlReport
>>> from foodrec.reports.results import Results
>>> report = HtmlReport("t")
>>> two_stage(report, Results())     # nothing to show: no section
>>> "Two stages" in report.render()
False
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from foodrec.reports.html import HtmlReport
from foodrec.reports.results import Results


def _truth(payload: dict[str, Any] | None, variant: str | None) -> str:
    """The paired true lift of ``variant`` in orders per visit, with its CI, from a simulation summary."""
    paired = ((payload or {}).get("paired_true_lift") or {}).get(variant or "") if payload else None
    if not isinstance(paired, dict):
        return "—"
    lo, hi = paired.get("ci", [None, None])
    if not isinstance(lo, int | float) or not isinstance(hi, int | float):
        return f"{paired['orders_per_visit']:+.1%} orders per visit"
    return f"{paired['orders_per_visit']:+.1%} orders per visit (95% interval {lo:+.1%} to {hi:+.1%})"


def _agrees(action: str, variant: str | None, payload: dict[str, Any] | None, picked: str) -> str:
    paired = ((payload or {}).get("paired_true_lift") or {}).get(picked) if payload else None
    if not isinstance(paired, dict) or not isinstance(paired.get("ci"), list) or None in paired["ci"]:
        return "—"
    lo, hi = paired["ci"]
    truly = "better" if lo > 0 else "worse" if hi < 0 else "unclear"
    chose = action in ("pick", "roll out") and variant == picked
    if truly == "unclear":
        return "truth unclear"
    return "yes" if chose == (truly == "better") else "no"


def two_stage(report: HtmlReport, results: Results) -> None:
    """A section with one row per stage; nothing when no interleaving experiment was analysed."""
    il = results.get("interleaving")
    if not isinstance(il, dict):
        return
    ab = results.get("abtest") if isinstance(results.get("abtest"), dict) else {}
    report.section("Two stages: pick with interleaving, confirm with an A/B test", anchor="two-stage")
    report.paragraph(
        "First every customer saw one list mixing the current recommendations and the model's; which of the two "
        "they ordered from tells which one they prefer, with few customers. Then an A/B test, sized before it "
        "started, measured how many more orders the preferred one brings, and was read every day with a test "
        "built for reading every day (so it may stop early without more false alarms; a size measured at an early "
        "stop comes out too large). The true effect below is known because the customers were simulated: every "
        "visit was also priced with each list."
    )
    ild = il.get("decision") or {}
    res = il.get("interleaving") or {}
    teams = res.get("teams") or [None, None]
    share, ci = res.get("preference_share"), res.get("ci") or [None, None]
    found = "—"
    if isinstance(share, int | float) and None not in ci:
        found = f"{teams[1]} preferred in {share:.1%} of visits with a preference ({ci[0]:.1%} to {ci[1]:.1%})"
    rows = [{
        "stage": "1. interleaving", "question": f"which do customers prefer: {teams[0]} or {teams[1]}?",
        "customers": res.get("customers"), "found": found,
        "decision": f"{ild.get('action', '—')} {ild.get('variant') or ''}".strip(),
        "true effect (paired)": _truth(il.get("truth"), "model"),
        "right?": _agrees(str(ild.get("action")), ild.get("variant"), il.get("truth"), "model"),
    }]  # fmt: skip
    if ab:
        d = ab.get("decision") or {}
        seq = ((ab.get("sequential") or {}).get("treatments") or {}).get("model") or {}
        found = "—"
        if isinstance(seq.get("lift"), int | float) and None not in (seq.get("ci") or [None]):
            kind = "repeated" if seq.get("boundary") is not None else "always-valid"
            look = seq.get("first_significant_look")
            when = (f"stopped at daily look {look + 1} of {len(seq.get('looks') or [])}" if look is not None
                    else f"{len(seq.get('looks') or [])} daily looks")  # fmt: skip
            found = (f"{seq['lift']:+.1%} orders per customer ({kind} interval {seq['ci'][0]:+.1%} to "
                     f"{seq['ci'][1]:+.1%}, {when})")  # fmt: skip
        customers = sum(int(v.get("customers", 0)) for v in ab.get("variants") or [] if isinstance(v, dict))
        truth = ab.get("truth") or results.get("simulation")
        rows.append({
            "stage": "2. A/B test", "question": "how many more orders does it bring?",
            "customers": customers or None, "found": found,
            "decision": f"{d.get('action', '—')} {d.get('variant') or ''}".strip(),
            "true effect (paired)": _truth(truth, "model"),
            "right?": _agrees(str(d.get("action")), d.get("variant"), truth, "model"),
        })  # fmt: skip
    report.table(pd.DataFrame(rows), float_format="{:,.0f}")
    if ab and rows[0]["customers"] and rows[-1]["customers"]:
        seq = ((ab.get("sequential") or {}).get("treatments") or {}).get("model") or {}
        look = seq.get("first_significant_look")
        at_stop = ""
        if look is not None and look < len(seq.get("looks") or []):
            row = seq["looks"][look]
            at_stop = f" (it could stop with the first {row['n_treatment'] + row['n_control']:,})"
        report.paragraph(
            f"The pick needed {rows[0]['customers']:,} customers; the A/B test {rows[-1]['customers']:,}{at_stop}. "
            "Interleaving answers 'which is better' cheaply; only the A/B test says by how much orders go up."
        )
