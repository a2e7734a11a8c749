"""Matplotlib figures of the EDA report, drawn from the figures dict only (so plots and JSON always agree).

Each function takes one section of :func:`foodrec.explore.figures.compute_figures` and returns a
:class:`matplotlib.figure.Figure` (no pyplot state, Agg canvas), or ``None`` when there is nothing to draw.

>>> fig = hour_of_day({"available": True, "per_hour_local": [1] * 24, "hour_peaks_local": []}, "UTC")
>>> type(fig).__name__
'Figure'
"""

from __future__ import annotations

from typing import Any

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from foodrec.data.time_features import MEAL_TIMES, meal_time_of_hour

WIDE = (10, 3.4)
MEAL_COLOURS = dict(zip(MEAL_TIMES, ("#8fbcd4", "#e8a33d", "#b9d48f", "#c0504d", "#6b5b95"), strict=True))


def _figure(size: tuple[float, float] = WIDE, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    fig = Figure(figsize=size)  # no layout engine: HtmlReport saves with a tight bounding box
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, **kwargs)
    return fig, axes


def _tidy(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)


def orders_per_day(volume: dict[str, Any]) -> Figure | None:
    """Orders per local day with a 7-day mean, and the mean per weekday."""
    if not volume.get("available"):
        return None
    days = np.array([d["date"] for d in volume["per_day"]], dtype="datetime64[D]")
    counts = np.array([d["orders"] for d in volume["per_day"]], dtype=float)
    fig, (ax, ax2) = _figure((10, 3.4), 2, width_ratios=[3, 1])
    fig.subplots_adjust(wspace=0.25)
    ax.plot(days, counts, color="#4a7ab5", lw=1, label="orders", marker="o" if len(days) < 15 else None, ms=3)
    if len(counts) >= 7:
        rolling = np.convolve(counts, np.ones(7) / 7, mode="valid")
        ax.plot(days[6:], rolling, color="#c0504d", lw=2, label="7-day mean")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("orders per day")
    ax.legend(frameon=False, loc="lower left")
    if len(days) <= 7:  # AutoDateLocator cannot pick an interval for a few days
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    else:
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    _tidy(ax)
    week = volume["per_weekday"]
    ax2.bar([w["day"][:2] for w in week], [w["mean_per_day"] or 0 for w in week], color="#4a7ab5")
    ax2.set_ylabel("mean orders per day")
    _tidy(ax2)
    return fig


def hour_of_day(volume: dict[str, Any], timezone: str) -> Figure | None:
    """Orders by local hour, bars coloured by meal time, peaks marked."""
    if not volume.get("available"):
        return None
    hours = np.asarray(volume["per_hour_local"], dtype=float)
    meals = meal_time_of_hour(np.arange(24))
    fig, ax = _figure()
    ax.bar(np.arange(24), hours, color=[MEAL_COLOURS[m] for m in meals], edgecolor="white")
    for h in volume.get("hour_peaks_local", [])[:3]:
        ax.annotate(
            "peak", (h, hours[h]), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points"
        )
    ax.set_xticks(range(24))
    ax.set_xlabel(f"local hour of day ({timezone})")
    ax.set_ylabel("orders")
    handles = [ax.bar([0], [0], color=MEAL_COLOURS[m], label=m) for m in MEAL_TIMES]
    ax.legend(handles=handles, frameon=False, ncols=5, loc="upper left", fontsize=8)
    ax.set_ylim(0, max(hours.max(), 1) * 1.2)  # room for the legend above the bars
    _tidy(ax)
    return fig


def per_area(areas: dict[str, Any]) -> Figure | None:
    """Orders per area (the busiest ones)."""
    rows = areas.get("per_area") or []
    if not rows:
        return None
    rows = rows[::-1]
    fig, ax = _figure((10, max(2.0, 0.25 * len(rows) + 0.8)))
    ax.barh([str(r["area"]) for r in rows], [r["orders"] for r in rows], color="#4a7ab5")
    ax.set_xlabel("orders")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def concentration(popularity: dict[str, Any]) -> Figure | None:
    """Cumulative share of orders by popularity rank, restaurants and dishes."""
    fig, ax = _figure((10, 3.4))
    drawn = False
    for key, colour in (("restaurants", "#4a7ab5"), ("dishes", "#c0504d")):
        block = popularity.get(key) or {}
        curve = block.get("curve")
        if not curve:
            continue
        ax.plot(curve["rank"], np.asarray(curve["cum_share"]) * 100, color=colour, lw=2, label=key)
        drawn = True
    if not drawn:
        return None
    for n in (10, 50):
        ax.axvline(n, color="#999", ls=":", lw=1)
        ax.text(n, 2, f" top {n}", fontsize=8, color="#666")
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("popularity rank (log scale)")
    ax.set_ylabel("% of orders (dishes: % of lines) in the top N")
    ax.legend(frameon=False)
    _tidy(ax)
    return fig


def customer_activity(customers: dict[str, Any]) -> Figure | None:
    """How many customers placed 1, 2, 3, ... orders (log scales), with the heavy-customer fence."""
    dist = customers.get("distribution") or []
    if not dist:
        return None
    fig, ax = _figure()
    ax.scatter([d["orders"] for d in dist], [d["customers"] for d in dist], s=14, color="#4a7ab5")
    ax.set_xscale("log")
    ax.set_yscale("log")
    fence = customers.get("heavy_fence")
    if fence:
        ax.axvline(fence, color="#c0504d", ls="--", lw=1)
        ax.text(fence, ax.get_ylim()[1], " heavy-customer fence", color="#c0504d", fontsize=8, va="top")
    ax.set_xlabel("orders by the customer (log scale)")
    ax.set_ylabel("customers (log scale)")
    _tidy(ax)
    return fig


def order_totals(money: dict[str, Any]) -> Figure | None:
    """Histogram of order totals on a log scale, with median and the outlier fence."""
    totals = money.get("totals") or {}
    hist = totals.get("histogram")
    if not totals.get("available") or not hist or not sum(hist["counts"]):
        return None
    edges = np.asarray(hist["edges"], dtype=float)
    fig, ax = _figure()
    ax.stairs(hist["counts"], edges, fill=True, color="#4a7ab5")
    ax.set_xscale("log")
    marks = [("median", totals.get("p50"), "#222"), ("outlier fence", totals.get("outlier_fence"), "#c0504d")]
    for label, value, colour in marks:
        if value and edges[0] <= value <= edges[-1] * 10:
            ax.axvline(value, color=colour, ls="--", lw=1)
            ax.text(value, ax.get_ylim()[1], f" {label} {value:,.1f}", color=colour, fontsize=8, va="top")
    ax.set_xlabel("order total (log scale)")
    ax.set_ylabel("orders")
    _tidy(ax)
    return fig


def driver_funnel(drivers: dict[str, Any]) -> Figure | None:
    """Refund rate per driver against their number of orders, with 3-sigma limits around the overall rate."""
    refunds = drivers.get("refunds") or {}
    funnel = refunds.get("funnel")
    if not drivers.get("available") or not funnel:
        return None
    n = np.asarray(funnel["orders"], dtype=float)
    rate = np.asarray(funnel["rate"], dtype=float)
    p = refunds["overall_rate"]
    fig, ax = _figure()
    ax.scatter(n, rate * 100, s=14, color="#4a7ab5")
    grid = np.linspace(max(n.min(), 1), n.max(), 200)
    se = np.sqrt(max(p * (1 - p), 1e-12) / grid)
    ax.plot(grid, (p + 3 * se) * 100, color="#c0504d", ls="--", lw=1, label="overall ± 3 s.e.")
    ax.plot(grid, np.clip(p - 3 * se, 0, None) * 100, color="#c0504d", ls="--", lw=1)
    ax.axhline(p * 100, color="#222", lw=1, label="overall rate")
    ax.set_xlabel("orders delivered by the driver")
    ax.set_ylabel("refund rate (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    _tidy(ax)
    return fig


def missing_values(missing: dict[str, Any]) -> Figure | None:
    """Share of missing values per column (only columns with some)."""
    rows = [r for r in missing.get("per_column", []) if r["missing"] > 0]
    if not rows:
        return None
    fig, ax = _figure((10, max(1.6, 0.3 * len(rows) + 0.8)))
    ax.barh([r["column"] for r in rows][::-1], [r["share"] * 100 for r in rows][::-1], color="#d9903d")
    ax.set_xlabel("% of order lines missing")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
