"""The stakeholder report: one HTML page that people who do not do ML can read.

It tells, in order: the problem as framed, the data in a few plots, simple rules vs the model, where the
model works and where it does not (per area, new vs returning customers), the A/B test and its decision,
whether the model is still good (drift), and the limitations. Every technical word gets a one-line
explanation (a glossary closes the page). Parts whose results are missing say so plainly.

>>> from foodrec.reports.results import Results
>>> report = build_report(None, Results())
>>> html = report.render()
>>> "No A/B test has been analysed yet" in html and "Glossary" in html
True
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from foodrec.reports.experiments import two_stage
from foodrec.reports.html import HtmlReport
from foodrec.reports.results import Metric, RecommenderScore, Results, recommender_scores

GLOSSARY: tuple[tuple[str, str], ...] = (
    ("Recommendation", "The short list of dishes (or restaurants) shown first when a customer opens the app."),
    ("Hit rate @10", "Share of orders where what the customer ordered was among the 10 things shown."),
    (
        "NDCG@10",
        "Like the hit rate, but a hit near the top of the list counts more; 1 = always first, 0 = never "
        "in the 10 shown.",
    ),  # fmt: skip
    ("Baseline", "A simple rule that needs no machine learning, e.g. 'most ordered in your area'."),
    ("Model", "The machine-learning recommender (a neural network trained on past orders)."),
    (
        "Offline test",
        "Replaying past orders: the recommender learns from older weeks and is graded on the "
        "following weeks it has never seen.",
    ),  # fmt: skip
    ("95% interval", "The range the true value lies in with 95% confidence, given how many orders we had."),
    (
        "A/B test",
        "Customers are split at random: group A sees the old recommendations, group B the new ones; "
        "the difference in what they buy is the effect.",
    ),  # fmt: skip
    ("Control / treatment", "The group that keeps the current recommendations / the group that gets the new ones."),
    ("Conversion", "Share of customers in a group who ordered at least once."),
    ("Lift", "How much higher (or lower) the new group's number is than the old group's, in percent."),
    ("CI", "Confidence interval: the same as a 95% interval."),
    (
        "p-value (p)",
        "How likely a difference this large would be by pure chance if there were no real effect; "
        "below 0.05 counts as real.",
    ),  # fmt: skip
    (
        "z-test, Welch t-test, bootstrap",
        "Standard statistical checks of whether a difference between two groups is larger than chance.",
    ),  # fmt: skip
    ("Sample ratio", "Whether the groups have the sizes the split intended; if not, the split is broken."),
    ("Guardrail", "A number that must not get worse (e.g. average order value) even if the main one improves."),
    ("Drift", "The world changing after the model learned it: other areas, other cuisines, other basket sizes."),
    (
        "PSI",
        "Population stability index: how much a mix (e.g. orders per cuisine) changed; under 0.1 is stable, "
        "over 0.25 is a major change.",
    ),  # fmt: skip
    ("Retraining", "Letting the model learn again from recent orders."),
)


def _pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value * 100:.{digits}f}%"


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# -- the parts ------------------------------------------------------------------------------
def _offline_scores(results: Results) -> tuple[RecommenderScore | None, list[RecommenderScore]]:
    """The model's score (from the evaluation JSON) and the baselines' (from the leaderboard)."""
    board = recommender_scores(results.get("leaderboard")) if results.get("leaderboard") is not None else []
    evaluated = recommender_scores(results.get("evaluation")) if results.get("evaluation") is not None else []
    model = next((s for s in evaluated if s.is_model), None) or next((s for s in board if s.is_model), None)
    baselines: dict[str, RecommenderScore] = {}
    for score in [*evaluated, *board]:  # the evaluation's entries carry segments: they come first
        if not score.is_model and score.name not in baselines:
            baselines[score.name] = score
    return model, list(baselines.values())


def _label(score: RecommenderScore) -> str:
    """How a recommender is named on the page: the model is 'MODEL' (plus its folder name), rules by name."""
    if score.is_model:
        return f"MODEL ({Path(score.name).name})" if "/" in score.name else f"MODEL ({score.name})"
    return score.name


def _best_baseline(baselines: list[RecommenderScore]) -> RecommenderScore | None:
    fair = [b for b in baselines if b.ndcg is not None and b.name != "oracle"]
    return max(fair, key=lambda b: b.ndcg.mean) if fair else None  # type: ignore[union-attr]


def _decision_line(abtest: dict[str, Any] | None) -> str | None:
    if not isinstance(abtest, dict) or not isinstance(abtest.get("decision"), dict):
        return None
    d = abtest["decision"]
    action = str(d.get("action", "?"))
    variant = f" ({d['variant']})" if d.get("variant") else ""
    more = f", about {int(d['more_customers']):,} more customers are needed" if d.get("more_customers") else ""
    return f"A/B test decision: {action}{variant}{more}."


def summary(report: HtmlReport, results: Results) -> None:
    """The answer first, in three or four sentences."""
    report.section("In short", anchor="summary")
    model, baselines = _offline_scores(results)
    best = _best_baseline(baselines)
    lines: list[tuple[str, str]] = []
    if model and best and model.ndcg and best.ndcg:
        better = model.ndcg.mean > best.ndcg.mean
        word = "better" if better else "no better"
        hr = ""
        if model.hr and best.hr:
            hr = (f" What the customer ordered was in the model's top 10 for {_pct(model.hr.mean)} of orders, "
                  f"against {_pct(best.hr.mean)} for the rule.")  # fmt: skip
        lines.append(("good" if better else "bad",
                      f"On past orders the model ranks {word} than the best simple rule ('{best.name}'): NDCG@10 "
                      f"{_num(model.ndcg.mean)} vs {_num(best.ndcg.mean)}.{hr}"))  # fmt: skip
    else:
        lines.append(("missing", "Model vs simple rules: no offline results found yet."))
    decision = _decision_line(results.get("abtest"))
    lines.append(("good" if decision and "roll out" in decision else "warn", decision)
                 if decision else ("missing", "No A/B test has been analysed yet."))  # fmt: skip
    drift = results.get("drift")
    if isinstance(drift, dict) and "drift" in drift:
        if drift["drift"]:
            lines.append(("bad", "Drift check: the recent weeks differ from what the model learned; retraining "
                          "is recommended."))  # fmt: skip
        else:
            lines.append(("good", "Drift check: recent orders look like the ones the model learned from."))
    else:
        why = _get(results.get("run"), "steps", "drift", "reason")
        lines.append(("missing", "No drift check has been run yet" + (f": it {why}." if why else ".")))
    for kind, text in lines:
        report.note(text, kind)


def problem(report: HtmlReport, results: Results, level: str) -> None:
    thing = "dishes" if level == "dish" else "restaurants"
    report.section("The problem", anchor="problem")
    report.paragraph(
        f"When a customer opens the app, which {thing} should we show first? foodrec ranks {thing} for one "
        "customer, in one area, at one moment (lunch is not dinner), and shows the top 10."
    )
    report.paragraph(
        "Success means the customer orders something we showed. Before any customer sees it, we test this by "
        "replaying past orders: the recommender learns from older weeks and is graded on later weeks it has not "
        "seen. Then an A/B test checks whether real customers order more."
    )


def data(report: HtmlReport, orders: pd.DataFrame | None, timezone: str, results: Results) -> None:
    report.section("The data", anchor="data")
    if orders is None or orders.empty:
        report.note("No store was given (or it holds no orders), so there are no data plots.", "missing")
        return
    plt = _plt()
    heads = orders.groupby("order_id", sort=False).first()
    at = pd.to_datetime(heads["ordered_at"], utc=True).dt.tz_convert(timezone)
    days = at.dt.normalize()
    n_days = max(1, int((days.max() - days.min()).days) + 1)
    per_customer = heads.groupby("customer_id").size()
    repeat = float((per_customer >= 2).mean()) if len(per_customer) else float("nan")
    report.paragraph(
        f"{len(heads):,} orders from {len(per_customer):,} customers at {heads['restaurant_id'].nunique():,} "
        f"restaurants over {n_days} days (times in {timezone}). {_pct(repeat)} of customers ordered more than once: "
        "what someone ordered before is the best single hint of what they order next."
    )
    hint, command = _get(results.get("eda"), "volume", "timezone_hint"), "foodrec ingest SOURCE... --store STORE"
    run = results.get("run")
    if isinstance(_get(run, "log", "timezone_hint"), dict):  # from `foodrec run`: say how to run it again
        hint = run["log"]["timezone_hint"]
        command = f"foodrec run {' '.join(str(s) for s in run.get('sources') or [])} --out {run.get('out')}"
    if isinstance(hint, dict) and hint.get("utc_offset") is not None:
        from foodrec.data.timezone_check import TimezoneHint

        report.note(
            f"The order times may be in the wrong time zone: {TimezoneHint.from_dict(hint).message(command)}. Until"
            " then, 'lunch' and 'dinner' in this report are read on that clock.",
            "warn",
        )
    ingest = results.get("ingest")
    if isinstance(ingest, dict):
        totals = ingest.get("totals", ingest)
        if isinstance(totals, dict) and totals.get("quarantined") is not None:
            report.paragraph(
                f"While loading, {int(totals.get('quarantined') or 0):,} of {int(totals.get('read') or 0):,} rows were "
                "set aside as unusable (e.g. unreadable dates) and "
                f"{int(totals.get('duplicates') or 0):,} exact duplicates were dropped; nothing was silently lost."
            )
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    daily = days.value_counts().sort_index()
    axes[0].plot(daily.index, daily.to_numpy(), color="#1f77b4")
    axes[0].set_title("Orders per day")
    axes[0].tick_params(axis="x", labelrotation=30)
    hours = at.dt.hour.value_counts().reindex(range(24), fill_value=0)
    axes[1].bar(hours.index, hours.to_numpy(), color="#ff7f0e")
    axes[1].set_title("Orders by hour of day (local time)")
    axes[1].set_xticks(range(0, 24, 3))
    fig.tight_layout()
    report.figure(fig, caption="Demand is steady from day to day, with a lunch and a dinner peak.")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    areas = heads["area"].fillna("(missing)").astype(str).value_counts().head(20)
    axes[0].bar(range(len(areas)), areas.to_numpy(), color="#2ca02c")
    axes[0].set_xticks(range(len(areas)), areas.index, rotation=60, fontsize=7)
    axes[0].set_title("Orders per delivery area (largest 20)")
    buckets = pd.cut(per_customer, [0, 1, 2, 5, 10, math.inf], labels=["1", "2", "3-5", "6-10", "11+"])
    share = buckets.value_counts(normalize=True).sort_index()
    axes[1].bar(share.index.astype(str), share.to_numpy() * 100, color="#9467bd")
    axes[1].set_title("Customers by number of orders (%)")
    fig.tight_layout()
    report.figure(fig, caption="Some areas have far more orders than others; most customers order only a few times.")


def _bar_with_ci(ax: Any, names: list[str], metrics: list[Metric | None], colors: list[str]) -> None:
    means = [m.mean if m else 0.0 for m in metrics]
    err_lo = [m.mean - m.low if m and m.low is not None else 0.0 for m in metrics]
    err_hi = [m.high - m.mean if m and m.high is not None else 0.0 for m in metrics]
    ax.barh(range(len(names)), means, xerr=[err_lo, err_hi], color=colors, capsize=3)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()


def _model_facts(report: HtmlReport, manifest: Any, evaluation: Any) -> None:
    """One sentence on how the model was trained and tested, from its manifest and the evaluation JSON."""
    parts = []
    if isinstance(manifest, dict) and manifest.get("cutoff"):
        parts.append(f"The model learned from the orders before {str(manifest['cutoff'])[:10]}")
    if isinstance(evaluation, dict) and evaluation.get("test_orders"):
        end = str(evaluation.get("test_end") or "")[:10]
        parts.append(
            f"it was graded on {int(evaluation['test_orders']):,} later orders" + (f" up to {end}" if end else "")
        )
    if parts:
        report.paragraph("; ".join(parts) + ".")


def _meal_times(report: HtmlReport, model: RecommenderScore | None, best: RecommenderScore | None) -> None:
    rows = _segment_rows(model, "meal_time")
    if rows is None:
        return
    table = rows[["value", "n", "ndcg"]].rename(columns={"value": "meal time", "n": "orders", "ndcg": "model NDCG@10"})
    base_rows = _segment_rows(best, "meal_time")
    if base_rows is not None:
        rule = base_rows[["value", "ndcg"]].rename(columns={"value": "meal time", "ndcg": f"rule: {best.name}"})
        table = table.merge(rule, on="meal time", how="left")
    table["orders"] = table["orders"].round().astype("Int64")
    report.table(table, caption="By meal time (local clock)")


def offline(report: HtmlReport, results: Results) -> None:
    report.section("Simple rules vs the model (offline test)", anchor="offline")
    model, baselines = _offline_scores(results)
    if model is None and not baselines:
        report.note("No offline results yet: run `foodrec baselines` and `foodrec evaluate`.", "missing")
        return
    report.paragraph(
        "Each recommender learned from the older weeks and was graded on the later weeks. NDCG@10 is the grade: "
        "1 means the ordered item was always first in the list, 0 that it was never in the 10 shown. "
        "The black lines are 95% intervals: where two bars' intervals do not overlap, the difference is real."
    )
    _model_facts(report, results.get("manifest"), results.get("evaluation"))
    rows = [*baselines, *([model] if model else [])]
    rows = [r for r in rows if r.ndcg is not None]
    if rows:
        plt = _plt()
        rows.sort(key=lambda r: r.ndcg.mean, reverse=True)  # type: ignore[union-attr]
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
        colors = ["#d62728" if r.is_model else ("#bbbbbb" if r.name == "oracle" else "#1f77b4") for r in rows]
        _bar_with_ci(ax, [_label(r) for r in rows], [r.ndcg for r in rows], colors)
        ax.set_xlabel("NDCG@10 (higher is better)")
        fig.tight_layout()
        report.figure(fig, caption="Red: the model. Blue: simple rules. Grey: 'oracle', the best possible with perfect "
                      "knowledge of each customer's tastes (only a synthetic city has it).")  # fmt: skip
    table = pd.DataFrame(
        [{"recommender": _label(r),
          "NDCG@10": r.ndcg.mean if r.ndcg else None, "hit rate @10": r.hr.mean if r.hr else None} for r in rows]
    )  # fmt: skip
    if not table.empty:
        report.table(table)
    best = _best_baseline(baselines)
    if model is None:
        report.note("The model has not been evaluated yet (no `foodrec evaluate` result for a saved model).",
                    "missing")  # fmt: skip
    elif best is not None and model.ndcg and best.ndcg:
        gain = model.ndcg.mean / best.ndcg.mean - 1 if best.ndcg.mean > 0 else float("nan")
        kind = "good" if gain > 0 else "bad"
        report.note(f"The model's NDCG@10 is {_pct(abs(gain), 1)} {'above' if gain > 0 else 'below'} the best simple "
                    f"rule ('{best.name}').", kind)  # fmt: skip


def _segment_rows(score: RecommenderScore | None, segment: str) -> pd.DataFrame | None:
    if score is None or score.segments is None:
        return None
    rows = score.segments[score.segments["segment"] == segment]
    return rows if not rows.empty else None


def segments(report: HtmlReport, results: Results, orders: pd.DataFrame | None) -> None:
    report.section("Where the model works, and where it does not", anchor="segments")
    model, baselines = _offline_scores(results)
    best = _best_baseline(baselines)
    areas = _segment_rows(model, "area")
    if areas is None:
        report.note("No per-area results yet (they come from `foodrec evaluate`).", "missing")
    else:
        areas = areas.copy()
        if areas["n"].isna().all() and orders is not None and not orders.empty:
            counts = orders.groupby("order_id").first()["area"].astype(str).value_counts()
            areas["n"] = areas["value"].map(counts)
        base_rows = _segment_rows(best, "area")
        if base_rows is not None:
            areas = areas.merge(base_rows[["value", "ndcg"]].rename(columns={"ndcg": "baseline"}), on="value",
                                how="left")  # fmt: skip
        areas = areas.sort_values("n", ascending=False, na_position="last")
        plt = _plt()
        fig, ax = plt.subplots(figsize=(9, 3.4))
        ax.scatter(areas["n"], areas["ndcg"], color="#d62728", label="model")
        if "baseline" in areas:
            ax.scatter(areas["n"], areas["baseline"], color="#1f77b4", marker="x", label=f"rule: {best.name}")
        ax.set_xlabel("orders in the area (test weeks)")
        ax.set_ylabel("NDCG@10")
        ax.legend()
        fig.tight_layout()
        report.figure(fig, caption="Each dot is a delivery area: how well the model ranks (up) against how much data "
                      "the area has (right).")  # fmt: skip
        known = areas.dropna(subset=["n", "ndcg"])
        if len(known) >= 4:
            half = len(known) // 2
            rich, poor = known.head(half), known.tail(len(known) - half)
            text = (
                f"In the {half} areas with the most orders the model's NDCG@10 averages "
                f"{_num(rich['ndcg'].mean())}; in the {len(poor)} with the fewest, {_num(poor['ndcg'].mean())}."
            )
            if "baseline" in known:
                gain_rich = (rich["ndcg"] - rich["baseline"]).mean()
                gain_poor = (poor["ndcg"] - poor["baseline"]).mean()
                text += (f" Model minus simple rule: {gain_rich:+.3f} in data-rich areas, {gain_poor:+.3f} in "
                         "data-poor ones.")  # fmt: skip
                if gain_rich > gain_poor and gain_rich > 0:
                    text += " The model works best where there is plenty of data."
                elif gain_rich <= 0 and gain_poor <= 0:
                    text += " The model does not beat the simple rule in either group of areas."
            report.paragraph(text)
        table = areas[["value", "n", "ndcg", *(["baseline"] if "baseline" in areas else [])]].rename(
            columns={
                "value": "area",
                "n": "orders",
                "ndcg": "model NDCG@10",
                "baseline": f"{best.name if best else ''}",
            }
        )
        table["orders"] = table["orders"].round().astype("Int64")
        report.table(table, max_rows=30)
    _meal_times(report, model, best)
    customers = _segment_rows(model, "customer_type")
    if customers is None:
        report.note("No new-vs-returning results yet.", "missing")
    else:
        base_rows = _segment_rows(best, "customer_type")
        table = customers[["value", "n", "ndcg", "hr"]].rename(
            columns={"value": "customers", "n": "orders", "ndcg": "model NDCG@10", "hr": "model hit rate @10"}
        )
        if base_rows is not None:
            rule = base_rows[["value", "ndcg"]].rename(columns={"value": "customers", "ndcg": "rule NDCG@10"})
            table = table.merge(rule, on="customers", how="left")
        table["orders"] = table["orders"].round().astype("Int64")
        report.table(table, caption="New customers (no order before) vs returning ones")
        by = customers.set_index("value")["ndcg"]
        if {"new", "returning"} <= set(by.index):
            text = (
                f"For returning customers the model's NDCG@10 is {_num(by['returning'])}; for new customers "
                f"{_num(by['new'])}. With no history, a new customer mostly gets what is popular in the area."
            )
            if base_rows is not None:
                rule = base_rows.set_index("value")["ndcg"]
                if {"new", "returning"} <= set(rule.index):
                    text += (f" Model minus simple rule: {by['new'] - rule['new']:+.3f} for new customers, "
                             f"{by['returning'] - rule['returning']:+.3f} for returning ones.")  # fmt: skip
            report.paragraph(text)


def abtest(report: HtmlReport, results: Results) -> None:
    report.section("The A/B test", anchor="abtest")
    ab = results.get("abtest")
    if not isinstance(ab, dict):
        report.note("No A/B test has been analysed yet (run `foodrec abtest`).", "missing")
        return
    report.paragraph(
        "Customers were split at random between the current recommendations (control) and the new ones; "
        "every customer always saw the same version. We compare what the groups bought."
    )
    variants = pd.DataFrame(ab.get("variants") or [])
    keep = [c for c in ("variant", "customers", "conversion", "orders_per_customer", "revenue_per_customer", "aov")
            if c in variants.columns]  # fmt: skip
    if keep:
        variants = variants[keep].copy()
        for col in ("conversion",):
            if col in variants:
                variants[col] = variants[col].map(lambda v: _pct(v, 1) if isinstance(v, int | float) else "—")
        report.table(variants.rename(columns={"conversion": "conversion (share who ordered)",
                                                    "revenue_per_customer": "revenue per customer",
                                                    "orders_per_customer": "orders per customer",
                                                    "aov": "average order value"}), float_format="{:,.2f}")  # fmt: skip
    comps = pd.DataFrame(ab.get("comparisons") or [])
    if not comps.empty and {"metric", "lift"} <= set(comps.columns):
        comps = comps[comps["lift"].notna()]
        plt = _plt()
        labels = [f"{r.get('treatment', '')}: {str(r['metric']).replace('_', ' ')}" for r in comps.to_dict("records")]
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(comps) + 1.2))
        lifts = comps["lift"].to_numpy(dtype=float) * 100
        lo = comps.get("lift_low", comps["lift"]).to_numpy(dtype=float) * 100
        hi = comps.get("lift_high", comps["lift"]).to_numpy(dtype=float) * 100
        ax.errorbar(lifts, range(len(comps)), xerr=[lifts - lo, hi - lifts], fmt="o", color="#d62728", capsize=4)
        ax.axvline(0, color="#444", lw=1)
        ax.set_yticks(range(len(comps)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("lift vs control, % (with 95% interval)")
        fig.tight_layout()
        report.figure(fig, caption="An interval that lies right of the line means a real improvement; one that "
                      "crosses it means we cannot tell yet.")  # fmt: skip
    srm = ab.get("srm")
    if isinstance(srm, dict) and srm.get("ok") is False:
        report.note("The groups are not the sizes they should be (sample-ratio mismatch): the split itself is broken, "
                    "so the numbers above cannot be trusted.", "bad")  # fmt: skip
    decision = ab.get("decision") if isinstance(ab.get("decision"), dict) else {}
    if decision:
        kind = {"roll out": "good", "stop": "bad"}.get(str(decision.get("action")), "warn")
        report.note(_decision_line(ab) or "", kind)
        for reason in decision.get("reasons") or []:
            report.paragraph(f"• {reason}")
    if results.get("simulation") is not None or "truth" in ab:
        report.paragraph("These customers were simulated from the synthetic city's known tastes, so the true effect "
                         "is known and the analysis can be checked against it.")  # fmt: skip


def drift(report: HtmlReport, results: Results) -> None:
    report.section("Is the model still good? (drift)", anchor="drift")
    d = results.get("drift")
    if not isinstance(d, dict) or "drift" not in d:
        report.note("No drift check has been run yet (run `foodrec drift`).", "missing")
        return
    w = d.get("windows", {})
    n = d.get("window_days")
    span = "week" if n in (None, 7) else f"{n} days" if n != 1 else "day"
    report.paragraph(
        f"We compared the last {span} the model learned from ({str(w.get('reference_start', '?'))[:10]} to "
        f"{str(w.get('reference_end', '?'))[:10]}) with the latest {span} ({str(w.get('recent_start', '?'))[:10]} to "
        f"{str(w.get('recent_end', '?'))[:10]}): where orders come from, at what time, which cuisines, how large "
        "the baskets are, and how well the model still ranks."
    )
    if d["drift"]:
        report.note("Drift found — retraining is recommended: " + "; ".join(d.get("reasons") or []), "bad")
    else:
        report.note("No drift: recent orders look like those the model learned from.", "good")
    rows = []
    words = {"stable": "stable", "moderate": "moderate change", "major": "MAJOR change", "unknown": "too little data"}
    names = {"area": "delivery areas", "meal_time": "meal times", "cuisine": "cuisines",
             "basket_value": "basket value", "model_score": "model's confidence scores"}  # fmt: skip
    for f in [*(d.get("inputs") or []), *([d["scores"]] if isinstance(d.get("scores"), dict) else [])]:
        rows.append({"what": names.get(f.get("feature"), f.get("feature")), "PSI (change in mix)": f.get("psi"),
                     "verdict": words.get(f.get("status"), f.get("status"))})  # fmt: skip
    if rows:
        report.table(pd.DataFrame(rows))
    q = d.get("quality") or {}
    if q.get("reference") is not None and q.get("recent") is not None:
        report.paragraph(
            f"Ranking quality (NDCG@10): {_num(q['reference'])} when trained, {_num(q['recent'])} on the latest "
            f"{span}'s {q.get('recent_n_queries', '?')} orders."
        )
    r = d.get("retrain")
    if isinstance(r, dict) and isinstance(r.get("stale"), dict) and isinstance(r.get("retrained"), dict):
        key = next((k for k in r["stale"] if k.startswith("ndcg")), None)
        if key:
            report.note(
                f"Retraining on recent orders: on the last {r.get('holdout', {}).get('days', '?')} day(s), held out "
                f"from both, NDCG@10 goes from {_num(r['stale'][key])} (current model) to {_num(r['retrained'][key])} "
                "(retrained).",
                "good" if (r["retrained"][key] or 0) > (r["stale"][key] or 0) else "warn",
            )


def _get(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def what_ran(report: HtmlReport, results: Results) -> None:
    """The steps of ``foodrec run`` (its run.json): what ran, what was skipped and why."""
    run = results.get("run")
    if not isinstance(run, dict) or not isinstance(run.get("steps"), dict):
        return
    report.section("What was run", anchor="run")
    words = {"done": "ran", "finding": "ran (found drift)", "skipped": "not run", "failed": "FAILED"}
    rows = [{"step": name, "result": words.get(str(e.get("status")), str(e.get("status"))),
             "why / command": e.get("reason") or e.get("command", "")}
            for name, e in run["steps"].items() if isinstance(e, dict) and name != "report"]  # fmt: skip
    rows += [{"step": name, "result": "not run", "why / command": text}
             for name, text in (run.get("not_run") or {}).items()]  # fmt: skip
    report.paragraph(
        "These results come from `foodrec run` on "
        + ", ".join(str(s) for s in run.get("sources") or ["the store"])
        + ". Every step is a command anyone can run again; steps that could not run say why."
    )
    report.table(pd.DataFrame(rows))


def limitations(report: HtmlReport, results: Results, synthetic: bool) -> None:
    report.section("Limitations", anchor="limitations")
    items = [
        "The offline test grades against what customers actually ordered while they saw the old app; it cannot know "
        "whether they would have liked something they were never shown. The A/B test answers that.",
        "New customers have no history, so they mostly get what is popular in their area.",
        "Areas with few orders give noisy results: look at the intervals, not only the averages.",
        "The drift thresholds (PSI 0.25, a 10% fall in NDCG) are conventional choices, not laws.",
    ]
    if synthetic:
        items.insert(0, "The data come from a synthetic city built to look like real delivery logs; numbers on real "
                        "data will differ.")  # fmt: skip
    if results.get("abtest") is not None and (
        results.get("simulation") is not None or "truth" in results.get("abtest")
    ):
        items.append("The A/B test ran on simulated customers; a test with real customers is still needed.")
    for text in items:
        report.paragraph(f"• {text}")
    if results.problems:
        report.note("Some result files could not be read: " + "; ".join(results.problems), "warn")


def glossary(report: HtmlReport) -> None:
    import html

    report.section("Glossary", anchor="glossary")
    items = "".join(f"<dt><b>{html.escape(w)}</b></dt><dd>{html.escape(t)}</dd>" for w, t in GLOSSARY)
    report.raw(f"<dl>{items}</dl>")


def build_report(
    store: Path | None, results: Results, orders: pd.DataFrame | None = None, timezone: str = "UTC",
    level: str | None = None, synthetic: bool = False,
) -> HtmlReport:  # fmt: skip
    """The whole report from the store's orders and the results found (any part may be missing)."""
    if level is None:
        manifest = results.get("manifest")
        level = (manifest or {}).get("level") if isinstance(manifest, dict) else None
        if level is None and orders is not None and "item_id" in orders.columns and orders["item_id"].notna().any():
            level = "dish"
    report = HtmlReport("What the recommender does, and does it work?",
                        subtitle=f"foodrec stakeholder report{f' — store {store}' if store else ''}")  # fmt: skip
    summary(report, results)
    problem(report, results, level or "restaurant")
    data(report, orders, timezone, results)
    offline(report, results)
    segments(report, results, orders)
    abtest(report, results)
    two_stage(report, results)
    drift(report, results)
    what_ran(report, results)
    limitations(report, results, synthetic)
    glossary(report)
    return report
