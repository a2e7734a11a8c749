"""Warts a real order log has, added on purpose so ingest, EDA and models meet them early.

- one customer who orders the same drink many times a day (:func:`add_drink_spammer`, before ids are given);
- missing areas, outlier order totals, exact duplicate rows and a few unparseable timestamps
  (:func:`pick_row_warts`, applied by the writer). Refunds and discounts are part of normal money
  (:func:`foodrec.data.synthetic.orders.order_money`).

>>> rng = np.random.default_rng(0)
>>> w = pick_row_warts(rng, n_orders=10_000, n_rows=25_000)
>>> bool(10 <= w.missing_area.sum() <= 50), len(w.bad_time_rows), len(set(w.bad_time_rows) & set(w.duplicate_rows))
(True, 8, 0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from foodrec.data.synthetic.city import World
from foodrec.data.synthetic.orders import NS_PER_DAY, Simulation, local_to_utc_ns

BAD_TIMESTAMPS = (
    "not a time",
    "2026-02-30T25:61:00Z",
    "31/02/2026 7pm",
    "yesterday",
    "0000-00-00 00:00:00",
    "2026-13-01T12:00:00Z",
    "NaT-ish",
    "12:30",
)
MISSING_AREA_SHARE = 0.003
OUTLIER_SHARE = 0.0005
DUPLICATE_SHARE = 0.004


@dataclass
class RowWarts:
    missing_area: np.ndarray  # (O,) bool, per order
    outlier: np.ndarray  # (O,) bool, per order
    outlier_factor: np.ndarray  # (O,) float
    duplicate_rows: np.ndarray  # row positions written twice
    bad_time_rows: np.ndarray  # row positions whose timestamp is garbage
    bad_time_values: list[str]


def pick_row_warts(rng: np.random.Generator, n_orders: int, n_rows: int) -> RowWarts:
    """Choose which orders/rows get a wart (sizes documented in docs/synthetic.md)."""
    missing = rng.random(n_orders) < MISSING_AREA_SHARE
    outlier = rng.random(n_orders) < OUTLIER_SHARE
    if n_orders >= 500 and not outlier.any():
        outlier[rng.integers(n_orders)] = True
    factor = np.where(outlier, rng.uniform(10.0, 30.0, n_orders), 1.0)
    n_dup = int(round(n_rows * DUPLICATE_SHARE))
    n_bad = min(len(BAD_TIMESTAMPS), max(1, n_rows // 2000)) if n_rows >= 100 else 0
    picked = rng.choice(n_rows, size=min(n_rows, n_dup + n_bad), replace=False) if n_rows else np.empty(0, np.int64)
    return RowWarts(
        missing_area=missing,
        outlier=outlier,
        outlier_factor=factor,
        duplicate_rows=np.sort(picked[:n_dup]),
        bad_time_rows=np.sort(picked[n_dup:]),
        bad_time_values=list(BAD_TIMESTAMPS[:n_bad]),
    )


def add_drink_spammer(
    world: World, sim: Simulation, start: dt.date, days: int, timezone: str, rng: np.random.Generator
) -> tuple[Simulation, dict]:
    """Append one-line orders of one drink, several a day, by one customer; returns the new simulation and info."""
    has_drink = np.flatnonzero(np.bincount(world.item_rest[world.item_cat == 2], minlength=world.n_restaurants))
    if len(has_drink) == 0 or len(sim.order_cust) == 0:
        return sim, {}
    # the customer: one of ordinary activity living where a drink place is (the spam makes them the top one)
    candidates = np.flatnonzero(np.isin(world.cust_home, world.rest_area[has_drink]) & (world.cust_join <= 0))
    if len(candidates) == 0:
        return sim, {}
    rate = world.cust_rate[candidates]
    cust = int(candidates[np.argmin(np.abs(rate - np.median(rate)))])
    home = int(world.cust_home[cust])
    rests = has_drink[world.rest_area[has_drink] == home]
    rest = int(rests[np.argmax(world.rest_quality[rests] + 10 * world.rest_open[rests].sum(axis=1))])
    item = int(np.flatnonzero((world.item_rest == rest) & (world.item_cat == 2))[0])
    n_days = max(1, round(0.6 * days))  # 2-4 orders on 60% of the days: ~55 orders in a 30-day month
    per_day = np.zeros(days, dtype=np.int64)
    per_day[rng.choice(days, size=n_days, replace=False)] = rng.integers(2, 5, n_days)
    day = np.repeat(np.arange(days), per_day)
    n = len(day)
    if n == 0:
        return sim, {}
    start_ns = np.datetime64(start, "ns").astype(np.int64)
    hours = np.flatnonzero(world.rest_open[rest])  # only when the place is open: the truth must allow it
    minute = rng.choice(hours, n) * 60 + rng.uniform(0, 60, n)
    local_ns = start_ns + day * NS_PER_DAY + (minute * 60e9).astype(np.int64)
    utc_ns = local_to_utc_ns(local_ns, timezone)
    base = len(sim.order_cust)
    new = Simulation(
        order_cust=np.r_[sim.order_cust, np.full(n, cust)],
        order_area=np.r_[sim.order_area, np.full(n, home)],
        order_rest=np.r_[sim.order_rest, np.full(n, rest)],
        order_ns=np.r_[sim.order_ns, utc_ns],
        order_day=np.r_[sim.order_day, day],
        line_order=np.r_[sim.line_order, base + np.arange(n)],
        line_item=np.r_[sim.line_item, np.full(n, item)],
        line_qty=np.r_[sim.line_qty, np.ones(n, dtype=np.int64)],
    )
    info = {
        "customer_id": str(world.customer_ids[cust]),
        "item_id": str(world.item_ids[item]),
        "restaurant_id": str(world.restaurant_ids[rest]),
        "orders": int(n),
        "max_per_day": int(per_day.max()),
    }
    return new, info
