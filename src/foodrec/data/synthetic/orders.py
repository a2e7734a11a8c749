"""Order simulation: day by day, all of the day's customers in one batch, from the ground-truth choice model.

>>> from foodrec.data.synthetic.presets import preset_config
>>> from foodrec.data.synthetic.city import build_world
>>> cfg = preset_config("small", customers=200, restaurants=20, days=7)
>>> sim = simulate_orders(build_world(cfg), cfg)
>>> len(sim.order_cust) == len(sim.order_t) > 0, bool(sim.line_order.max() < len(sim.order_cust))
(True, True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from foodrec.data.synthetic.choice import (
    DecayedCounts,
    dish_utilities,
    restaurant_utilities,
)
from foodrec.data.synthetic.city import World
from foodrec.data.synthetic.presets import CityConfig

NS_PER_DAY = 86_400 * 10**9
# meal slot windows in local minutes after midnight, and the peak minute (triangular distribution)
_SLOT_WINDOWS = np.array(
    [[7 * 60, 10 * 60 + 30, 8 * 60 + 30], [10 * 60 + 30, 14 * 60, 11 * 60 + 45], [14 * 60, 16 * 60 + 30, 15 * 60],
     [16 * 60 + 30, 21 * 60 + 30, 18 * 60 + 15], [20 * 60 + 30, 24 * 60, 21 * 60]], dtype=np.float64,
)  # fmt: skip


@dataclass
class Simulation:
    """Clean simulated orders (integer indices into the world) before warts and ids."""

    order_cust: np.ndarray  # (O,)
    order_area: np.ndarray  # (O,) delivery area
    order_rest: np.ndarray  # (O,)
    order_ns: np.ndarray  # (O,) int64 UTC epoch nanoseconds
    order_day: np.ndarray  # (O,) simulation day
    line_order: np.ndarray  # (L,) index into orders
    line_item: np.ndarray  # (L,)
    line_qty: np.ndarray  # (L,)

    @property
    def order_t(self) -> np.ndarray:
        """UTC epoch days (the time unit of the choice model)."""
        return self.order_ns / NS_PER_DAY


def local_to_utc_ns(local_ns: np.ndarray, timezone: str) -> np.ndarray:
    """Naive local epoch-ns -> UTC epoch-ns (DST gaps shift forward, repeated hours take the first)."""
    idx = pd.DatetimeIndex(local_ns.astype("datetime64[ns]"))
    utc = idx.tz_localize(timezone, ambiguous=np.ones(len(idx), dtype=bool), nonexistent="shift_forward")
    return utc.tz_convert("UTC").asi8.astype(np.int64)


def day_start_utc_days(start: dt.date, day: float, timezone: str) -> float:
    """UTC epoch days of local midnight of simulation day ``day``."""
    local = pd.Timestamp(start) + pd.Timedelta(days=day)
    return local.tz_localize(timezone).tz_convert("UTC").value / NS_PER_DAY


def simulate_orders(
    world: World,
    config: CityConfig,
    rng: np.random.Generator | None = None,
    progress: Callable[[int], None] | None = None,
) -> Simulation:
    """Simulate ``config.days`` days of orders. ``progress(day)`` is called after each day."""
    rng = rng or np.random.default_rng([config.seed, 2])
    p = world.params
    tau = float(p["habit_tau_days"])
    rest_habit = DecayedCounts(world.n_restaurants, tau)
    dish_habit = DecayedCounts(world.n_items, tau)
    penalty = world.delivery_penalty()
    deliver = [np.flatnonzero(np.isfinite(penalty[a])) for a in range(world.n_areas)]
    colmap = np.full((world.n_areas, world.n_restaurants), -1)
    for a, cols in enumerate(deliver):
        colmap[a, cols] = np.arange(len(cols))
    neighbours = world.neighbours()
    n_nb = neighbours.sum(axis=1)
    dow_rhythm = np.asarray(p["dow_rhythm"], dtype=np.float64)
    p_extra = p["p_extra"]
    extra_p = np.array([p_extra["side"], p_extra["drink"], p_extra["dessert"]])

    # padded item tables: (R, 4, M) item indices, -1 = none
    group = world.item_rest * 4 + world.item_cat
    sizes = np.bincount(group, minlength=world.n_restaurants * 4)
    m = max(1, int(sizes.max()))
    starts = np.cumsum(sizes) - sizes
    menu = np.full((world.n_restaurants * 4, m), -1, dtype=np.int64)
    offset = np.arange(world.n_items) - starts[group]
    menu[group, offset] = np.arange(world.n_items)
    menu = menu.reshape(world.n_restaurants, 4, m)

    start_local_ns = pd.Timestamp(config.start).value
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("cust", "area", "rest", "ns", "day", "lo", "li", "lq")}
    n_orders = 0
    for day in range(config.days):
        dow = (config.start.weekday() + day) % 7
        prob = 1.0 - np.exp(-world.cust_rate * dow_rhythm[dow])
        cust = np.flatnonzero((world.cust_join <= day) & (rng.random(world.n_customers) < prob))
        n = len(cust)
        if n == 0:
            if progress:
                progress(day)
            continue
        # when: a meal slot from the customer's propensities, a minute from the slot's peaked window
        cum = np.cumsum(world.cust_slots[cust], axis=1)
        slot = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), 4)
        lo, hi, mode = _SLOT_WINDOWS[slot].T
        minute = _triangular(rng, lo, mode, hi)
        local_ns = start_local_ns + day * NS_PER_DAY + (minute * 60e9).astype(np.int64) + rng.integers(0, 60, n) * 10**9
        utc_ns = local_to_utc_ns(local_ns, config.timezone)
        local_minute = (local_ns // (60 * 10**9)) % (24 * 60)
        hour = (local_minute // 60).astype(np.int64)
        ldow = ((config.start.weekday() + day + (minute >= 24 * 60)) % 7).astype(np.int64)
        t = utc_ns / NS_PER_DAY
        # where: home; weekday lunch at work for some; now and then a neighbouring area
        area = world.cust_home[cust].copy()
        work = world.cust_work[cust]
        at_work = (work >= 0) & (ldow < 5) & (hour >= 11) & (hour < 15) & (rng.random(n) < p["work_lunch_share"])
        area[at_work] = work[at_work]
        visit = rng.random(n) < p["visit_share"]
        if visit.any():
            pick = (rng.random(visit.sum()) * n_nb[area[visit]]).astype(np.int64)
            cand = np.argsort(~neighbours[area[visit]], axis=1, kind="stable")
            area[visit] = cand[np.arange(visit.sum()), pick]
        # which restaurant: Gumbel-max over the logit utilities of the restaurants delivering to the area
        rest = np.full(n, -1)
        hr, hc, hv = rest_habit.entries(cust, t)
        for a in np.unique(area):
            sel = np.flatnonzero(area == a)
            cols = deliver[a]
            if len(cols) == 0:
                continue
            in_sel = np.full(n, -1)
            in_sel[sel] = np.arange(len(sel))
            keep = (in_sel[hr] >= 0) & (colmap[a][hc] >= 0)
            habit = (in_sel[hr[keep]], colmap[a][hc[keep]], hv[keep])
            u = restaurant_utilities(world, cust[sel], area[sel], t[sel], hour[sel], ldow[sel], habit, penalty, cols)
            u += rng.gumbel(size=u.shape)
            best = np.argmax(u, axis=1)
            ok = np.isfinite(u[np.arange(len(sel)), best])
            rest[sel[ok]] = cols[best[ok]]
        ok = rest >= 0
        cust, area, rest, t, utc_ns, n = cust[ok], area[ok], rest[ok], t[ok], utc_ns[ok], int(ok.sum())
        if n == 0:
            if progress:
                progress(day)
            continue
        # which dishes: a main (sometimes two), then extras by category
        lines_o, lines_i, lines_q = [], [], []
        mains = menu[rest, 0]
        for k in range(2):
            take = np.ones(n, dtype=bool) if k == 0 else rng.random(n) < p["p_second_main"]
            chosen = _pick(world, rng, cust[take], mains[take], dish_habit, t[take])
            lines_o.append(np.flatnonzero(take))
            lines_i.append(chosen)
            lines_q.append(_quantity(rng, len(chosen), (0.80, 0.16, 0.04)))
        for c in range(3):
            take = (rng.random(n) < extra_p[c]) & (menu[rest, c + 1, 0] >= 0)
            if not take.any():
                continue
            chosen = _pick(world, rng, cust[take], menu[rest[take], c + 1], dish_habit, t[take])
            lines_o.append(np.flatnonzero(take))
            lines_i.append(chosen)
            lines_q.append(_quantity(rng, len(chosen), (0.85, 0.13, 0.02)))
        lo_, li_, lq_ = np.concatenate(lines_o), np.concatenate(lines_i), np.concatenate(lines_q)
        # the same dish twice in one order is one line with a larger quantity
        key = lo_ * world.n_items + li_
        uniq, inv = np.unique(key, return_inverse=True)
        lq_ = np.bincount(inv, weights=lq_).astype(np.int64)
        lo_, li_ = uniq // world.n_items, uniq % world.n_items
        rest_habit.add(cust, rest, t)
        dish_habit.add(cust[lo_], li_, t[lo_])
        out["cust"].append(cust)
        out["area"].append(area)
        out["rest"].append(rest)
        out["ns"].append(utc_ns)
        out["day"].append(np.full(n, day))
        out["lo"].append(lo_ + n_orders)
        out["li"].append(li_)
        out["lq"].append(lq_)
        n_orders += n
        if progress:
            progress(day)

    def cat(key: str, dtype: type = np.int64) -> np.ndarray:
        return np.concatenate(out[key]).astype(dtype) if out[key] else np.empty(0, dtype=dtype)

    return Simulation(
        order_cust=cat("cust"), order_area=cat("area"), order_rest=cat("rest"), order_ns=cat("ns"),
        order_day=cat("day"), line_order=cat("lo"), line_item=cat("li"), line_qty=cat("lq"),
    )  # fmt: skip


def _triangular(rng: np.random.Generator, lo: np.ndarray, mode: np.ndarray, hi: np.ndarray) -> np.ndarray:
    u = rng.random(len(lo))
    c = (mode - lo) / (hi - lo)
    left = u < c
    out = np.empty(len(lo))
    out[left] = lo[left] + np.sqrt(u[left] * (hi - lo)[left] * (mode - lo)[left])
    out[~left] = hi[~left] - np.sqrt((1 - u[~left]) * (hi - lo)[~left] * (hi - mode)[~left])
    return out


def _pick(
    world: World, rng: np.random.Generator, cust: np.ndarray, cand: np.ndarray, habit: DecayedCounts, t: np.ndarray
) -> np.ndarray:
    """Gumbel-max choice among candidate items (rows of ``cand``, -1 padded)."""
    h = habit.get(cust[:, None], cand, t[:, None])
    v = dish_utilities(world, cust, cand, h) + rng.gumbel(size=cand.shape)
    return cand[np.arange(len(cand)), np.argmax(v, axis=1)]


def _quantity(rng: np.random.Generator, n: int, probs: tuple[float, float, float]) -> np.ndarray:
    return rng.choice(np.array([1, 2, 3]), size=n, p=np.asarray(probs))


@dataclass
class Money:
    """Order-level money (repeated on every line of the order in the written log)."""

    subtotal: np.ndarray
    total: np.ndarray
    discount: np.ndarray
    tip: np.ndarray
    refunded: np.ndarray
    driver: np.ndarray  # int driver index


def order_money(world: World, sim: Simulation, rng: np.random.Generator) -> Money:
    """Totals, discounts (~15% of orders), tips, refunds (~3%) and drivers for the simulated orders."""
    n = len(sim.order_cust)
    subtotal = np.bincount(sim.line_order, weights=world.item_price[sim.line_item] * sim.line_qty, minlength=n)
    own = world.rest_area[sim.order_rest] == sim.order_area
    fee = np.where(own, 1.99, 3.99)
    discounted = rng.random(n) < 0.15
    discount = np.where(discounted, np.minimum(np.round(subtotal * rng.choice([0.1, 0.2, 0.3], n), 2), 15.0), 0.0)
    service = np.round(subtotal * 0.12, 2)
    total = np.round(subtotal + service + fee - discount, 2)
    tipped = rng.random(n) < 0.75
    tip = np.where(tipped, np.round(subtotal * rng.choice([0.10, 0.15, 0.18, 0.20], n) * 2) / 2, 0.0)
    refunded = np.zeros(n)
    refund = rng.random(n) < 0.03
    full = rng.random(n) < 0.5
    refunded[refund & full] = total[refund & full]
    partial = refund & ~full
    refunded[partial] = np.round(total[partial] * rng.uniform(0.1, 0.5, partial.sum()), 2)
    n_drivers = max(5, int(n / max(1, sim.order_day.max() + 1) / 12))
    driver = rng.integers(0, n_drivers, n)
    return Money(subtotal=subtotal, total=total, discount=discount, tip=tip, refunded=refunded, driver=driver)
