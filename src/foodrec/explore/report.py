"""The EDA report: one self-contained HTML page built from the figures dict, readable without knowing the data.

Every section starts with the question it answers, then shows a plot and/or a small table and a plain
sentence with the key numbers. Sections whose columns the data lacks say so.

>>> import pandas as pd
>>> from foodrec.explore.figures import compute_figures
>>> lines = pd.DataFrame({"order_id": ["o1"], "customer_id": ["c1"], "area": ["a"], "restaurant_id": ["r1"],
...                       "ordered_at": pd.to_datetime(["2026-03-02T19:00Z"], utc=True)})
>>> html = build_report(compute_figures(lines), source="tiny log").render()
>>> "no order_total" in html or "none of the columns" in html
True
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd

from foodrec.explore import plots
from foodrec.reports.html import HtmlReport

TITLES: dict[str, str] = {
    "glance": "At a glance",
    "overview": "What is in the log",
    "volume": "Volume over time",
    "areas": "Where: orders by area",
    "popularity": "What: most ordered restaurants and dishes",
    "customers": "Who: customer activity and outliers",
    "repeat": "Repeat behaviour and cold start",
    "missing": "Missing values and data quality",
    "timestamps": "Timestamps: resolution and gaps",
    "money": "Money: order totals, refunds, discounts",
    "drivers": "Delivery people",
}


def pct(value: float | None, digits: int = 1) -> str:
    """``0.123 -> '12.3%'``; None gives 'n/a'.

    >>> pct(0.1234), pct(None)
    ('12.3%', 'n/a')
    """
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 0) -> str:
    """Thousands separators; None gives 'n/a'.

    >>> num(12345), num(3.14159, 2)
    ('12,345', '3.14')
    """
    return "n/a" if value is None else f"{value:,.{digits}f}"


def when(iso: str | None) -> str:
    """An ISO timestamp as local wall-clock minutes (the report states the zone once, at the top).

    >>> when("2026-01-26T22:08:14-08:00")
    '2026-01-26 22:08'
    """
    return "?" if not iso else iso[:16].replace("T", " ")


def _missing_area(figs: dict[str, Any]) -> str:
    text = pct(_get(figs, "areas", "missing_area_share"), 2)
    reasons = _get(figs, "missing", "ingest", "quarantine_reasons") or {}
    quarantined = sum(v for k, v in reasons.items() if "area" in k.lower())
    return text + (f" in the store; {num(quarantined)} rows quarantined at ingest for it" if quarantined else "")


def _hours(hours: list[int]) -> str:
    return ", ".join(f"{h:02d}:00" for h in hours) or "none"


def _get(figs: dict[str, Any], *path: str) -> Any:
    value: Any = figs
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _absent(block: dict[str, Any] | None) -> str | None:
    """The reason a block is unavailable, or None when it is available."""
    if block is None:
        return "not computed"
    return None if block.get("available", True) else block.get("reason", "not available")


def glance_rows(figs: dict[str, Any]) -> pd.DataFrame:
    """The headline shapes (those of ``realism.md``) as one table: property, value."""
    g = lambda *p: _get(figs, *p)  # noqa: E731
    opc = g("customers", "orders_per_customer") or {}
    peaks = g("volume", "hour_peaks_local")
    day = g("volume", "per_day_stats") or {}
    totals = g("money", "totals") or {}
    rows = [
        (
            "orders / customers / restaurants",
            f"{num(g('overview', 'orders'))} / {num(g('overview', 'customers'))} / {num(g('overview', 'restaurants'))}",
        ),
        (
            "time span (local days)",
            f"{num(g('overview', 'days'))} days, {when(g('overview', 'first_order'))}"
            f" to {when(g('overview', 'last_order'))}",
        ),
        (
            "orders per customer: median / p90 / p99 / max",
            " / ".join(
                [num(opc.get("median"), 1), num(opc.get("p90"), 1), num(opc.get("p99"), 1), num(opc.get("max"))]
            ),
        ),
        ("customers with 2 or more orders", pct(g("customers", "share_customers_2plus"))),
        (
            "returning customers' orders repeating a restaurant / dish",
            f"{pct(g('repeat', 'restaurant_repeat_share'))} / {pct(g('repeat', 'dish_repeat_share'))}",
        ),
        (
            "orders at the 10 / 50 most popular restaurants",
            f"{pct(g('popularity', 'restaurants', 'top10_share'))} / "
            f"{pct(g('popularity', 'restaurants', 'top50_share'))}",
        ),
        (
            "restaurants delivering to more than one area",
            f"{num(g('areas', 'restaurants_multi_area'))} of {num(g('areas', 'restaurants'))}",
        ),
        (
            "orders per day: min / median / max",
            f"{num(day.get('min'))} / {num(day.get('median'))} / {num(day.get('max'))}",
        ),
        (
            "hour-of-day peaks: local (UTC)",
            f"{_hours(peaks)} ({_hours(g('volume', 'hour_peaks_utc') or [])})" if peaks is not None else "n/a",
        ),
        (
            "refunded orders",
            pct(g("money", "refunds", "refund_rate"))
            if g("money", "refunds", "refund_rate") is not None
            else "n/a (no refunded_amount column)",
        ),
        (
            "discounted orders",
            pct(g("money", "discounts", "discount_rate"))
            if g("money", "discounts", "discount_rate") is not None
            else "n/a (no discount column)",
        ),
        (
            "order total: median / p75 / max",
            f"{num(totals.get('p50'), 2)} / {num(totals.get('p75'), 2)} / {num(totals.get('max'), 2)}"
            if totals.get("available")
            else "n/a (no order_total or unit_price column)",
        ),
        ("orders with a missing area", _missing_area(figs)),
        (
            "customers ordering one thing many times a day (flagged)",
            num(g("customers", "same_item_per_day", "customers")),
        ),
        (
            "test-period orders by new customers (cold start)",
            pct(g("repeat", "cold_start", "new_customer_order_share")),
        ),
    ]
    return pd.DataFrame(rows, columns=["property", "value"])


def _records_table(
    report: HtmlReport, rows: list[dict[str, Any]] | None, caption: str, max_rows: int = 10, **renames: str
) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows)
    for col in ("from", "to", "ordered_at_local", "ordered_at"):
        if col in frame.columns:
            frame[col] = frame[col].map(when)
    for col in frame.columns:
        if col == "share" or col.endswith("_share") or col == "rate":
            frame[col] = frame[col].map(pct)
    report.table(frame.rename(columns=renames), caption=caption, float_format="{:,.2f}", max_rows=max_rows)


def _plot(report: HtmlReport, fig: Any, caption: str) -> None:
    if fig is not None:
        report.figure(fig, caption=caption, close=False)


def build_report(figs: dict[str, Any], source: str = "") -> HtmlReport:
    """The whole report from :func:`foodrec.explore.figures.compute_figures` output."""
    tz = _get(figs, "overview", "timezone") or "UTC"
    report = HtmlReport(
        "Order log: exploratory data analysis",
        subtitle=f"{source} · {num(_get(figs, 'overview', 'orders'))} orders · "
        f"all times in {tz} (the data's time zone)",
    )
    toc = "".join(f'<li><a href="#{key}">{html.escape(title)}</a></li>' for key, title in TITLES.items())
    report.raw(f"<nav><ol>{toc}</ol></nav>")
    report.section(
        TITLES["glance"],
        "The first questions about an order log, answered in one table; details follow.",
        anchor="glance",
    )
    report.table(glance_rows(figs))
    builders: dict[str, Callable[[HtmlReport, dict[str, Any]], None]] = {
        "overview": _overview,
        "volume": _volume,
        "areas": _areas,
        "popularity": _popularity,
        "customers": _customers,
        "repeat": _repeat,
        "missing": _missing,
        "timestamps": _timestamps,
        "money": _money,
        "drivers": _drivers,
    }
    for key, build in builders.items():
        block = figs.get(key) or {"available": False, "reason": "not computed"}
        report.section(TITLES[key], anchor=key)
        reason = _absent(block)
        if reason:
            report.note(f"Not available: {reason}.", kind="missing")
            continue
        build(report, block)
    return report


# --------------------------------------------------------------------------------------------- sections


def _overview(r: HtmlReport, b: dict[str, Any]) -> None:
    r.paragraph(
        f"{num(b['lines'])} order lines in {num(b['orders'])} orders ({b['lines_per_order_mean']:.2f} lines per order) "
        f"by {num(b['customers'])} customers from {num(b['restaurants'])} restaurants"
        + (f" and {num(b['items'])} dishes" if b.get("items") else "")
        + f", delivered to {num(b['areas'])} areas, over {b['days']} local days "
        f"({when(b['first_order'])} to {when(b['last_order'])}). Recommendations are at {b['level']} level."
    )
    if b.get("sample"):
        r.raw('<div style="overflow-x:auto;font-size:.85em;white-space:nowrap">')  # wide: many columns
        _records_table(r, b["sample"], "The first order lines, as stored (times on the local clock).", max_rows=5)
        r.raw("</div>")
    absent = b.get("optional_columns_absent") or []
    if absent:
        r.note(f"Optional columns this log does not have: {', '.join(absent)}. Sections needing them say so.", "warn")
    if b.get("extra_columns"):
        r.paragraph(f"Extra (non-canonical) columns kept: {', '.join(b['extra_columns'])}.")


def _volume(r: HtmlReport, b: dict[str, Any]) -> None:
    s = b["per_day_stats"]
    r.paragraph(
        f"How busy is the platform, and is demand steady? Orders per local day range from {num(s['min'])} to "
        f"{num(s['max'])} (median {num(s['median'])}; coefficient of variation {num(s['cv'], 2)}). "
        f"Busiest over quietest weekday (mean orders per day): {num(b['weekday_ratio_max_min'], 2)}x."
        + (f" {s['zero_days']} day(s) in the range have no orders at all." if s["zero_days"] else "")
    )
    _plot(r, plots.orders_per_day(b), "Orders per local day (left) and mean orders per weekday (right).")
    r.paragraph(
        f"When do people order? Peaks at local hour(s) {_hours(b['hour_peaks_local'])} "
        f"(in UTC: {_hours(b.get('hour_peaks_utc') or [])}); "
        f"almost nothing (under 5% of the busiest hour) at {_hours(b['quiet_hours_local'])}."
    )
    hint = b.get("timezone_hint")
    if hint:
        r.note(
            "Are the times in the right zone? In this log " + hint["message"] + ". Meal times and every local-hour"
            f" figure below are read in {hint['store_timezone']} until then.",
            "warn",
        )
    tz = "local"
    _plot(r, plots.hour_of_day(b, tz), "Orders by local hour of day, coloured by meal time.")
    meals = pd.DataFrame(b["per_meal_time"])
    if len(meals) and meals["orders"].sum():
        meals["share"] = (meals["orders"] / meals["orders"].sum()).map(pct)
        r.table(
            meals,
            caption="Orders per meal time (local hours: breakfast 6-11, lunch 11-15, afternoon 15-17, "
            "dinner 17-22, late 22-6).",
        )


def _areas(r: HtmlReport, b: dict[str, Any]) -> None:
    r.paragraph(
        f"{num(b['areas'])} areas. {num(b['missing_area_orders'])} orders ({pct(b['missing_area_share'], 2)}) have no "
        f"area. {num(b['restaurants_multi_area'])} of {num(b['restaurants'])} restaurants "
        f"({pct(b['restaurants_multi_area_share'])}) deliver to more than one area, so 'popular in my area' differs "
        "from 'popular overall'."
    )
    shown = len(b.get("per_area") or [])
    caption = f"Orders per area (the {shown} busiest of {b['areas']})." if shown < b["areas"] else "Orders per area."
    _plot(r, plots.per_area(b), caption)


def _popularity(r: HtmlReport, b: dict[str, Any]) -> None:
    rest = b["restaurants"]
    text = (
        f"How concentrated is demand? The 10 most ordered restaurants take {pct(rest['top10_share'])} of orders, the "
        f"50 most ordered {pct(rest['top50_share'])} (of {num(rest['distinct'])})."
    )
    dishes = b.get("dishes") or {}
    if dishes.get("available", True) and dishes.get("distinct"):
        text += (
            f" For dishes: top 10 {pct(dishes['top10_share'])}, top 50 {pct(dishes['top50_share'])} of order lines "
            f"(of {num(dishes['distinct'])} dishes ordered)."
        )
    r.paragraph(text + " A long tail means popularity alone cannot serve most customers.")
    _plot(r, plots.concentration(b), "Cumulative share of volume taken by the N most popular restaurants / dishes.")
    if rest.get("in_catalogue_never_ordered"):
        r.paragraph(f"{num(rest['in_catalogue_never_ordered'])} restaurants in the catalogue were never ordered from.")
    _records_table(r, rest["top"], "Most ordered restaurants.")
    if dishes.get("available", True) and dishes.get("top"):
        _records_table(r, dishes["top"], "Most ordered dishes (order lines).")
        if dishes.get("in_catalogue_never_ordered"):
            r.paragraph(f"{num(dishes['in_catalogue_never_ordered'])} dishes in the catalogue were never ordered.")
    elif not dishes.get("available", True):
        r.note(f"Dishes: {dishes['reason']}.", "missing")
    if b.get("cuisines"):
        _records_table(r, b["cuisines"], "Orders per cuisine (from the restaurants table).")


def _customers(r: HtmlReport, b: dict[str, Any]) -> None:
    o = b["orders_per_customer"]
    r.paragraph(
        f"How active are customers? Orders per customer: median {num(o['median'], 1)}, p90 {num(o['p90'], 1)}, "
        f"p99 {num(o['p99'], 1)}, max {num(o['max'])}. {pct(b['share_customers_2plus'])} of customers ordered "
        f"more than once. The most orders one customer placed on one day: {num(b['max_orders_one_day'])}."
    )
    _plot(r, plots.customer_activity(b), "Customers by number of orders (both axes log scale).")
    if b.get("heavy_customers"):
        r.note(
            f"{num(b['heavy_customers'])} heavy customers have more than {num(b['heavy_fence'], 1)} orders (far above "
            "the rest: Tukey's fence Q3 + 3 IQR on log(orders+1)). They can dominate popularity counts and metrics.",
            "warn",
        )
        _records_table(r, b["heavy_top"], "Heaviest customers.")
    same = b["same_item_per_day"]
    if same["customers"]:
        r.note(
            f"Outliers: {num(same['customers'])} customer(s) put the same {same['unit']} in several orders of one day "
            f"on {same['min_days']}+ days, or in {same['threshold']}+ orders of a single day "
            f"({pct(same['orders_share'], 2)} of all orders). Ordinary customers almost never do this (e.g. an office "
            "ordering the same drink all day); it inflates repeat and popularity figures, so consider capping it.",
            "bad",
        )
        _records_table(r, same["flagged"], f"Customers flagged for ordering the same {same['unit']} many times a day.")
        _records_table(r, same["top"], f"Busiest customer-days with the same {same['unit']} in 2+ orders.", max_rows=5)
    else:
        r.note(
            f"No customer ordered the same {same['unit']} several times a day on {same['min_days']}+ days or "
            f"{same['threshold']}+ times in one day ({num(same['customer_days'])} customer-days with 2+).",
            "good",
        )


def _repeat(r: HtmlReport, b: dict[str, Any]) -> None:
    text = (
        f"Do customers come back to what they had? {pct(b['returning_share'])} of orders come from returning customers "
        f"(who ordered before). Of those, {pct(b['restaurant_repeat_share'])} go to a restaurant the customer used "
        "before"
    )
    text += (
        f" and {pct(b['dish_repeat_share'])} contain a dish they had before."
        if b.get("dish_repeat_share") is not None
        else f". {b.get('dish_note', '')}"
    )
    r.paragraph(text + " High repeat shares mean a customer's own history is a strong baseline.")
    cold = b.get("cold_start")
    if cold:
        rows = [
            ("split (last days kept for test)", f"{cold['test_days']} days from {when(cold['cutoff'])}"),
            ("test orders", num(cold["test_orders"])),
            ("test orders by customers never seen in training", pct(cold["new_customer_order_share"])),
            ("new customers in test", num(cold["new_customers_in_test"])),
            ("test orders at restaurants never seen in training", pct(cold["new_restaurant_order_share"])),
        ]
        if "new_dish_line_share" in cold:
            rows.append(("test order lines with a dish never seen in training", pct(cold["new_dish_line_share"])))
        r.paragraph(
            "Cold start: at a temporal split keeping the last ~20% of days for test, how much of the future "
            "cannot be served from the customer's own history?"
        )
        r.table(pd.DataFrame(rows, columns=["cold start", "value"]))
    else:
        r.note("Cold start: the log spans too few days for a temporal split.", "missing")


def _missing(r: HtmlReport, b: dict[str, Any]) -> None:
    rows = pd.DataFrame(b["per_column"])
    any_missing = bool(rows["missing"].sum()) if len(rows) else False
    r.paragraph(
        "Which columns have gaps (null or blank values), per order line? Required columns should have none "
        "(ingest quarantines rows that lack them)."
    )
    _plot(r, plots.missing_values(b), "Share of order lines with a missing value, per column.")
    quarantined = _get(b, "ingest", "totals", "quarantined")
    if not any_missing:
        r.note(
            "No missing values in the stored rows"
            + (f"; ingest quarantined {num(quarantined)} rows (reasons below)." if quarantined else "."),
            "good",
        )
    rows["share"] = rows["share"].map(lambda v: pct(v, 2))
    rows["required"] = rows["required"].map({True: "yes", False: ""})
    r.table(rows, caption="Missing values per column.")
    if b.get("absent_optional_columns"):
        r.note(f"Columns absent altogether: {', '.join(b['absent_optional_columns'])}.", "missing")
    ingest = b.get("ingest")
    if ingest:
        r.paragraph(
            "What ingest did with the raw rows (from ingest_summary.json): rows read, accepted, quarantined "
            "(invalid, kept in STORE/quarantine with a reason) and exact duplicates dropped."
        )
        _ingest_table(r, ingest)


def _ingest_table(r: HtmlReport, ingest: dict[str, Any]) -> None:
    rows = list(ingest.get("sources") or [])
    if ingest.get("totals"):
        rows.append({"source": "total", "table": "", **ingest["totals"]})
    if rows:
        r.table(pd.DataFrame(rows))
    reasons = ingest.get("quarantine_reasons")
    if reasons:
        r.table(
            pd.DataFrame(list(reasons.items()), columns=["quarantine reason", "rows"]),
            caption="Why rows were quarantined.",
        )


def _timestamps(r: HtmlReport, b: dict[str, Any]) -> None:
    r.paragraph(
        f"How precise are the timestamps and are there holes in the record? Resolution: {b['resolution']} "
        f"({pct(b['share_on_whole_minute'])} fall on a whole minute, {pct(b['share_on_whole_hour'])} on a whole hour). "
        f"Median gap between consecutive orders: {num(b['median_gap_s'], 0)} s; {b['gaps_over_6h']} gap(s) over 6 h, "
        f"{b['gaps_over_24h']} over 24 h. Nightly gaps are normal; gaps over a day usually mean lost data."
    )
    if b["gaps_over_24h"]:
        r.note(f"{b['gaps_over_24h']} gap(s) longer than a day: check the data pipeline for those dates.", "bad")
    _records_table(r, b["longest_gaps"], "Longest gaps between consecutive orders (local time).")


def _money(r: HtmlReport, b: dict[str, Any]) -> None:
    t = b.get("totals") or {}
    if t.get("available"):
        r.paragraph(
            f"What do orders cost? Order totals ({b['total_source']}): median {num(t['p50'], 2)}, "
            f"p25 {num(t['p25'], 2)}, p75 {num(t['p75'], 2)}, p99 {num(t['p99'], 2)}, max {num(t['max'], 2)}. "
            f"{num(t['outliers'])} orders ({pct(t['outlier_share'], 2)}) are above the outlier fence "
            f"{num(t['outlier_fence'], 2)} (Q3 + 3 IQR on log totals)"
            + (f"; {num(t['non_positive'])} totals are zero or negative." if t["non_positive"] else ".")
        )
        _plot(r, plots.order_totals(b), "Order totals (log scale).")
        pcts = {k: v for k, v in t.items() if k.startswith("p") and k[1:].replace("_", "").isdigit()}
        r.table(pd.DataFrame([pcts | {"max": t["max"]}]), caption="Order total percentiles.", float_format="{:,.2f}")
        _records_table(r, t.get("outliers_top"), "Largest outlier orders.")
    else:
        r.note(f"Order totals: {t.get('reason', 'not available')}.", "missing")
    ref = b.get("refunds") or {}
    if ref.get("available", True) and "refund_rate" in ref:
        extra = ""
        if ref.get("refunded_value_share") is not None:
            extra = (
                f" Refunds are {pct(ref['refunded_value_share'], 2)} of order value; {num(ref.get('full_refunds'))}"
                " orders were refunded in full."
            )
        r.paragraph(
            f"Refunds: {num(ref['refunded_orders'])} orders ({pct(ref['refund_rate'], 2)}) were refunded.{extra}"
        )
    else:
        r.note(f"Refunds: {ref.get('reason', 'not available')}.", "missing")
    disc = b.get("discounts") or {}
    if disc.get("available", True) and "discount_rate" in disc:
        r.paragraph(
            f"Discounts: {num(disc['discounted_orders'])} orders ({pct(disc['discount_rate'])}) had a discount"
            + (f", median {num(disc['median_discount'], 2)}." if disc.get("median_discount") is not None else ".")
        )
    else:
        r.note(f"Discounts: {disc.get('reason', 'not available')}.", "missing")
    if b.get("tips"):
        r.paragraph(
            f"Tips: {pct(b['tips']['tipped_share'])} of orders tipped (median tip {num(b['tips']['median_tip'], 2)})."
        )
    if b.get("negative_values"):
        r.note("Negative money values: " + ", ".join(f"{c} {n}" for c, n in b["negative_values"].items()) + ".", "warn")


def _drivers(r: HtmlReport, b: dict[str, Any]) -> None:
    r.paragraph(
        f"Does the delivery person matter? {num(b['drivers'])} drivers; {pct(b['orders_with_driver_share'])} of orders "
        f"name one; median {num(b['orders_per_driver']['median'])} orders per driver. Drivers with at least "
        f"{b['min_orders']} orders ({b['drivers_compared']}) are compared."
    )
    ref = b.get("refunds") or {}
    if ref.get("available", True) and "overall_rate" in ref:
        p = ref.get("p_value_chi2")
        verdict = "differ more than chance explains" if p is not None and p < 0.01 else "are consistent with chance"
        r.paragraph(
            f"Refund rates per driver {verdict} (chi-square test across drivers, p = {num(p, 4)}); "
            f"{ref['drivers_z_over_3']} driver(s) are more than 3 standard errors above the overall rate "
            f"{pct(ref['overall_rate'], 2)} (chance alone puts about {b['drivers_compared'] * 0.00135:.2f} of "
            f"{b['drivers_compared']} drivers there)."
        )
        _plot(r, plots.driver_funnel(b), "Refund rate per driver; points above the dashed line are unusually high.")
        _records_table(r, ref.get("worst"), "Drivers with the highest refund rates relative to chance (z-score).")
    else:
        r.note(f"Refunds by driver: {ref.get('reason', 'not available')}.", "missing")
    tot = b.get("totals") or {}
    if tot.get("available", True) and "p_value_kruskal" in tot:
        p = tot.get("p_value_kruskal")
        verdict = "differ more than chance explains" if p is not None and p < 0.01 else "are consistent with chance"
        r.paragraph(f"Order totals per driver {verdict} (Kruskal-Wallis, p = {num(p, 4)}).")
        _records_table(r, tot.get("highest"), "Drivers with the highest mean order total.")
    else:
        r.note(f"Totals by driver: {tot.get('reason', 'not available')}.", "missing")
