"""Popularity by area, meal time and hour: recency-decayed snapshots over time, and the live newest one.

Snapshot ``k`` counts only the lines before ``times[k]``; a query at time ``t`` reads the latest snapshot at or
before ``t`` (point in time). :meth:`Popularity.observe` folds a new order into the newest snapshot, so the
service's popularity moves with the orders it sees.

>>> import numpy as np, pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> from foodrec.features.lines import order_lines
>>> from foodrec.features.vocabulary import FeatureSpace
>>> orders = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c2", "c3"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 12:00", "2026-01-03 12:00"], utc=True),
...     "area": "a", "restaurant_id": ["r1", "r1", "r2"]})
>>> space = FeatureSpace.fit(OrderLog(orders), "restaurant")
>>> pop = Popularity.build(space, order_lines(OrderLog(orders), space), end=20456.0)
>>> snap = pop.snapshot_index(np.array([20456.0]))
>>> pop.top_items(snap, np.array([1]), np.array([1]), 2).tolist()       # r1 first
[[1, 2]]
>>> for _ in range(3):
...     pop.observe(20456.1, item=2, area=1, meal=1, hour=12)           # r2 ordered three times since
>>> pop.features(snap, np.array([1]), np.array([1]), np.array([12]), np.array([[1, 2]]))[0, :, 2].argmax()
np.int64(1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from foodrec.features.clock import N_HOURS, N_MEALS
from foodrec.features.vocabulary import FeatureSpace

N_POP_FEATURES = 10  # 7, 8: the item's return rate and typical return gap (features/repeat.py); 9: first orders
RETURN_SMOOTHING = 5.0  # pseudo-orders at the city's return rate
GAP_SMOOTHING = 2.0  # pseudo-returns at the city's typical gap
TOP_REFRESH_ORDERS = 100


@dataclass
class Popularity:
    """Recency-decayed popularity snapshots; snapshot ``k`` uses only lines before ``times[k]``.

    Item level: ``glob[k, i]``, ``short[k, i]`` (short half-life: a trend signal), ``area[k, a, i]``. Restaurant level
    (the item's restaurant; equal to the item at restaurant level): ``rest_area[k, a, r]``,
    ``rest_area_meal[k, a, m, r]``. ``rest_top[k, r]`` lists the restaurant's most ordered items (retrieval).
    Area index 0 (unknown area) holds the global counts. ``rest_hour[k, r, h]`` counts the restaurant's orders by local
    hour (half-life ``hour_half_life``, longer: opening hours change slowly), the evidence of when it takes orders.
    """

    times: np.ndarray
    glob: np.ndarray
    short: np.ndarray
    area: np.ndarray
    rest_area: np.ndarray
    rest_area_meal: np.ndarray
    rest_top: np.ndarray
    rest_hour: np.ndarray
    item_restaurant: np.ndarray
    half_life: float = 14.0
    short_half_life: float = 3.0
    hour_half_life: float = 60.0
    # The item's returns: decayed count of lines by a customer who had ordered the item before (``ret[k, i]``) and
    # the decayed sum of those lines' gaps in days since that customer's previous line of the item (``ret_gap``).
    ret: np.ndarray | None = None
    ret_gap: np.ndarray | None = None
    # First orders (a customer's first order in the data): ``first_area_meal[k, a, m, r]`` as ``rest_area_meal``,
    # what new customers choose (the cold-start head reads their share).
    first_area_meal: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        space: FeatureSpace,
        lines: pd.DataFrame,
        end: float,
        step_days: float | None = None,
        budget_floats: float = 6e7,
        half_life: float = 14.0,
        short_half_life: float = 3.0,
        n_top: int = 16,
        hour_half_life: float = 60.0,
    ) -> Popularity:
        n_items, n_areas, n_rest = len(space.items), len(space.areas), len(space.restaurants)
        per_snapshot = n_items * (n_areas + 4) + n_rest * (n_areas * (2 * N_MEALS + 1) + N_HOURS)
        start = float(lines["t"].min()) if len(lines) else end - 1.0
        span = max(end - start, 1.0)
        if step_days is None:
            n_max = max(int(budget_floats // per_snapshot), 2)
            step_days = max(1.0, float(np.ceil(span / (n_max - 1))))
        times = np.append(np.arange(np.floor(start) + step_days, end, step_days), end)
        s = len(times)
        item_rest = space.item_restaurant
        glob = np.zeros((s, n_items), np.float32)
        short = np.zeros((s, n_items), np.float32)
        area = np.zeros((s, n_areas, n_items), np.float32)
        rest_area = np.zeros((s, n_areas, n_rest), np.float32)
        rest_area_meal = np.zeros((s, n_areas, N_MEALS, n_rest), np.float32)
        rest_top = np.zeros((s, n_rest, n_top), np.int32)
        rest_hour = np.zeros((s, n_rest, N_HOURS), np.float32)
        ret = np.zeros((s, n_items), np.float32)
        ret_gap = np.zeros((s, n_items), np.float32)
        rt, rg = np.zeros(n_items), np.zeros(n_items)
        gap_all = return_gaps(lines)
        first_area_meal = np.zeros((s, n_areas, N_MEALS, n_rest), np.float32)
        fr = np.zeros((n_areas, N_MEALS, n_rest))
        first_all = first_orders(lines)
        g, sh = np.zeros(n_items), np.zeros(n_items)
        ar = np.zeros((n_areas, n_items))
        ram = np.zeros((n_areas, N_MEALS, n_rest))
        rh = np.zeros((n_rest, N_HOURS))
        t_all, item = lines["t"].to_numpy(), lines["item"].to_numpy()
        ar_idx, meal = lines["area"].to_numpy(), lines["meal"].to_numpy()
        hour = np.clip(lines["hour"].to_numpy(), 0, N_HOURS - 1).astype(np.int64)
        rest = item_rest[item]
        # Dishes sorted by restaurant, for the per-restaurant top lists.
        by_rest = np.argsort(item_rest, kind="stable")
        rest_of_sorted = item_rest[by_rest]
        first_of_rest = np.searchsorted(rest_of_sorted, np.arange(n_rest))
        lo, prev = 0, start
        for k, tk in enumerate(times):
            hi = int(np.searchsorted(t_all, tk, side="left"))
            dt = tk - prev
            f, fs = 0.5 ** (dt / half_life), 0.5 ** (dt / short_half_life)
            g *= f
            rt *= f
            rg *= f
            sh *= fs
            ar *= f
            ram *= f
            fr *= f
            rh *= 0.5 ** (dt / hour_half_life)
            if hi > lo:
                w = 0.5 ** ((tk - t_all[lo:hi]) / half_life)
                ws = 0.5 ** ((tk - t_all[lo:hi]) / short_half_life)
                it, a, m = item[lo:hi], ar_idx[lo:hi], meal[lo:hi]
                g += np.bincount(it, w, n_items)
                gap = gap_all[lo:hi]
                back = np.isfinite(gap)
                rt += np.bincount(it[back], w[back], n_items)
                rg += np.bincount(it[back], w[back] * gap[back], n_items)
                sh += np.bincount(it, ws, n_items)
                np.add.at(ar, (a, it), w)
                np.add.at(ram, (a, m, rest[lo:hi]), w)
                new = first_all[lo:hi]
                np.add.at(fr, (a[new], m[new], rest[lo:hi][new]), w[new])
                np.add.at(rh, (rest[lo:hi], hour[lo:hi]), 0.5 ** ((tk - t_all[lo:hi]) / hour_half_life))
            glob[k], short[k], area[k] = g, sh, ar
            ret[k], ret_gap[k] = rt, rg
            first_area_meal[k] = fr
            first_area_meal[k, 0] = fr.sum(axis=0)
            rest_hour[k] = rh
            area[k, 0] = g
            rest_area_meal[k] = ram
            rest_area_meal[k, 0] = ram.sum(axis=0)
            rest_area[k] = rest_area_meal[k].sum(axis=1)
            # top dishes per restaurant: order dishes by (restaurant, -count), take the first n_top of each
            order = np.lexsort((-g[by_rest], rest_of_sorted))
            ranked = by_rest[order]
            pos = np.arange(len(ranked)) - first_of_rest[item_rest[ranked]]
            keep = (pos < n_top) & (ranked > 0)
            rest_top[k, item_rest[ranked[keep]], pos[keep]] = ranked[keep]
            lo, prev = hi, tk
        return cls(
            times,
            glob,
            short,
            area,
            rest_area,
            rest_area_meal,
            rest_top,
            rest_hour,
            item_rest.astype(np.int32),
            half_life,
            short_half_life,
            hour_half_life,
            ret=ret,
            ret_gap=ret_gap,
            first_area_meal=first_area_meal,
        )

    def __post_init__(self) -> None:
        if self.ret is None:  # built without returns (older callers): none seen
            self.ret = np.zeros_like(self.glob)
        if self.ret_gap is None:
            self.ret_gap = np.zeros_like(self.glob)
        if self.first_area_meal is None:
            self.first_area_meal = np.zeros_like(self.rest_area_meal)
        self._first_tot = self.first_area_meal.sum(axis=-1)  # (S, A, M)
        self._ret_tot = self.ret.sum(axis=-1)
        self._ret_gap_tot = self.ret_gap.sum(axis=-1)
        n_rest = self.rest_area.shape[-1]
        self._glob_tot = self.glob.sum(axis=-1)
        self._short_tot = self.short.sum(axis=-1)
        self._area_tot = self.area.sum(axis=-1)
        self._rest_area_tot = self.rest_area.sum(axis=-1)
        self._rest_area_meal_tot = self.rest_area_meal.sum(axis=-1)
        # per snapshot: restaurant totals of item counts and number of dishes per restaurant
        self._rest_glob = np.zeros((len(self.times), n_rest), np.float32)
        for k in range(len(self.times)):
            self._rest_glob[k] = np.bincount(self.item_restaurant, self.glob[k], n_rest)
        self._rest_size = np.maximum(np.bincount(self.item_restaurant[1:], minlength=n_rest), 1)
        self._rest_hour_tot = self.rest_hour.sum(axis=-1)  # (S, R)
        self._city_hour = self.rest_hour.sum(axis=1)  # (S, 24)
        self._city_hour_share = (self._city_hour + 0.5) / (self._city_hour.sum(axis=-1, keepdims=True) + 0.5 * N_HOURS)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_tables"}  # a copy builds its own (16 MiB)

    def observe(
        self, t: float, item: int, area: int, meal: int, hour: float, gap: float | None = None, first: bool = False
    ) -> None:
        """Fold one order line at time ``t`` (days) into the newest snapshot, in place (a few microseconds).

        Counts stay in units of the snapshot's time ``T``: a line at ``t`` weighs ``0.5 ** ((T - t) / half_life)``
        (above 1 for ``t > T``), which is exactly the decayed count at ``T``; shares are ratios of counts at one
        reference time, so they are the same as if the snapshot had been rebuilt at ``t``. Unknown items (0) are
        ignored: a model cannot score an item it was not trained on. ``gap``: days since the same customer's previous
        line of this item (None: their first), counted in the item's returns; ``first``: the customer's first order.
        """
        if item <= 0:
            return
        k = len(self.times) - 1
        dt = float(t) - float(self.times[k])
        w, ws, wh = 2.0 ** (dt / self.half_life), 2.0 ** (dt / self.short_half_life), 2.0 ** (dt / self.hour_half_life)
        r = int(self.item_restaurant[item])
        m, h = int(meal), int(np.clip(hour, 0, N_HOURS - 1))
        areas = (0, area) if area > 0 else (0,)
        self.glob[k, item] += w
        self.short[k, item] += ws
        self._glob_tot[k] += w
        self._short_tot[k] += ws
        self._rest_glob[k, r] += w
        if gap is not None and np.isfinite(gap):
            self.ret[k, item] += w
            self.ret_gap[k, item] += w * float(gap)
            self._ret_tot[k] += w
            self._ret_gap_tot[k] += w * float(gap)
        for a in areas:
            self.area[k, a, item] += w
            self.rest_area[k, a, r] += w
            self.rest_area_meal[k, a, m, r] += w
            self._area_tot[k, a] += w
            self._rest_area_tot[k, a] += w
            self._rest_area_meal_tot[k, a, m] += w
            if first:
                self.first_area_meal[k, a, m, r] += w
                self._first_tot[k, a, m] += w
        self.rest_hour[k, r, h] += wh
        self._rest_hour_tot[k, r] += wh
        self._city_hour[k, h] += wh
        self._city_hour_share[k] = (self._city_hour[k] + 0.5) / (self._city_hour[k].sum() + 0.5 * N_HOURS)
        self._rerank_restaurant(k, r)
        # The cached most-popular lists (retrieval) are recomputed every TOP_REFRESH_ORDERS orders, not after each:
        # one recomputation scores the whole catalogue, and one order barely moves a list of hundreds.
        self._folded = getattr(self, "_folded", 0) + 1
        if self._folded % TOP_REFRESH_ORDERS == 0:
            self.__dict__.pop("_top_cache", None)
        if "_tables" in self.__dict__:  # every feature of the newest snapshot moved (its totals did): all go
            self._tables.clear()

    def _rerank_restaurant(self, k: int, r: int) -> None:
        """Refresh restaurant ``r``'s list of most ordered dishes in snapshot ``k`` (retrieval reads it)."""
        dishes = np.flatnonzero(self.item_restaurant == r)
        dishes = dishes[dishes > 0]
        ranked = dishes[np.argsort(-self.glob[k, dishes], kind="stable")][: self.rest_top.shape[-1]]
        self.rest_top[k, r] = 0
        self.rest_top[k, r, : len(ranked)] = ranked

    def last(self) -> Popularity:
        """Only the final snapshot (what inference needs)."""
        return Popularity(
            self.times[-1:],
            self.glob[-1:],
            self.short[-1:],
            self.area[-1:],
            self.rest_area[-1:],
            self.rest_area_meal[-1:],
            self.rest_top[-1:],
            self.rest_hour[-1:],
            self.item_restaurant,
            self.half_life,
            self.short_half_life,
            self.hour_half_life,
            ret=self.ret[-1:],
            ret_gap=self.ret_gap[-1:],
            first_area_meal=self.first_area_meal[-1:],
        )

    def snapshot_index(self, feature_time: np.ndarray) -> np.ndarray:
        """Latest snapshot at or before each time (the first one for earlier times)."""
        idx = np.searchsorted(self.times, np.asarray(feature_time), side="right") - 1
        return np.clip(idx, 0, len(self.times) - 1)

    def features(
        self,
        snap: np.ndarray,
        area: np.ndarray,
        meal: np.ndarray,
        hour: np.ndarray,
        cands: np.ndarray,
        smoothing: float = 20.0,
        hour_smoothing: float = 1.0,
    ) -> np.ndarray:
        """Per candidate (all logs of smoothed shares): item global, item in area, its restaurant in area x meal
        time, short/long trend, item within its restaurant, its restaurant in area, and the hour lift of its
        restaurant: ``log (orders at this local hour + 1) - log (expected + 1)``, expected being the restaurant's
        orders times the city's share of that hour. Far below 0 when a busy restaurant never takes orders at an
        hour when the city does (it is closed); near 0 at hours when nobody orders."""
        snap = np.asarray(snap, np.int64)[:, None]
        a = np.asarray(area, np.int64)[:, None]
        m = np.asarray(meal, np.int64)[:, None]
        h = np.clip(np.asarray(hour, dtype=np.int64), 0, N_HOURS - 1)[:, None]
        n_areas, n_rest = self.rest_area.shape[1:]
        r = self.item_restaurant.take(cands)
        # Flat positions and np.take (a third of the time of indexing with several arrays); the same counts.
        item = snap * self.glob.shape[1] + cands
        snap_area = snap * n_areas + a
        rest = snap * n_rest + r
        area_meal = snap_area * N_MEALS + m
        at = lambda table, index: _flat(table).take(index)  # noqa: E731
        counts = {
            "glob": at(self.glob, item),
            "glob_tot": self._glob_tot[snap],
            "short": at(self.short, item),
            "short_tot": self._short_tot[snap],
            "area": at(self.area, snap_area * self.glob.shape[1] + cands),
            "area_tot": at(self._area_tot, snap_area),
            "rest_glob": at(self._rest_glob, rest),
            "rest_size": self._rest_size.take(r),
            "rest_area": at(self.rest_area, snap_area * n_rest + r),
            "rest_area_tot": at(self._rest_area_tot, snap_area),
            "rest_area_meal": at(self.rest_area_meal, area_meal * n_rest + r),
            "rest_area_meal_tot": at(self._rest_area_meal_tot, area_meal),
            "rest_hour": at(self.rest_hour, rest * N_HOURS + h),
            "rest_hour_tot": at(self._rest_hour_tot, rest),
            "city_hour_share": at(self._city_hour_share, snap * N_HOURS + h),
            "ret": at(self.ret, item),
            "ret_gap": at(self.ret_gap, item),
            "ret_tot": self._ret_tot[snap],
            "ret_gap_tot": self._ret_gap_tot[snap],
            "first_ram": at(self.first_area_meal, area_meal * n_rest + r),
            "first_ram_tot": at(self._first_tot, area_meal),
        }
        sizes = (self.glob.shape[1], self.rest_area.shape[-1])
        return popularity_features(np, counts, *sizes, smoothing, hour_smoothing).astype(np.float32)

    def gather_features(
        self, snap: np.ndarray, area: np.ndarray, meal: np.ndarray, hour: np.ndarray, cands: np.ndarray
    ) -> np.ndarray:
        """:meth:`features` (default smoothing) for ``cands`` ``(B, C)``: the same numbers. Queries on the newest
        snapshot (the service's) read them from the feature table of the whole catalogue for their (area, meal
        time, hour) once that combination has been asked for about a catalogue's worth of candidates (a table costs
        what that many candidates cost directly: at most twice the direct work, then a gather for every later
        query); :meth:`observe` drops the tables. Older snapshots (evaluation over history, with many combinations
        each asked a few times) are computed per candidate. Not for concurrent use: like :meth:`observe`, callers
        serialise (the service ranks under the model's lock or in a process of its own).

        >>> import numpy as np
        >>> from foodrec.features.vocabulary import FeatureSpace
        >>> from foodrec.features.lines import order_lines
        >>> from foodrec.recommenders.keras.toydata import toy_log
        >>> log = toy_log(n_customers=8, n_restaurants=4, days=5, seed=1)
        >>> space = FeatureSpace.fit(log, "restaurant")
        >>> pop = Popularity.build(space, order_lines(log, space), end=20460.0)
        >>> newest = np.full(9, len(pop.times) - 1)
        >>> args = (newest, np.ones(9, int), np.ones(9, int), np.full(9, 12), np.tile([[1, 2]], (9, 1)))
        >>> [np.array_equal(pop.gather_features(*args), pop.features(*args)) for _ in range(2)], len(pop._tables.slot)
        ([True, True], 1)
        """
        snap = np.asarray(snap, np.int64)
        hour = np.minimum(np.maximum(np.asarray(hour, dtype=np.int64), 0), N_HOURS - 1)
        area, meal = np.asarray(area, np.int64), np.asarray(meal, np.int64)
        tables = self.__dict__.get("_tables")
        if tables is None:
            tables = self._tables = _FeatureTables(self.glob.shape[1])
        if len(snap) == 0 or cands.shape[1] == 0 or tables.slots == 0:
            return self.features(snap, area, meal, hour, cands)
        newest = np.flatnonzero(snap == len(self.times) - 1)
        if len(newest) == 0:
            return self.features(snap, area, meal, hour, cands)
        keys = ((area * N_MEALS + meal) * N_HOURS + hour)[newest]
        slot = np.full(len(snap), -1, np.intp)
        make = lambda rows: self._table(snap, area, meal, hour, newest[rows])  # noqa: E731
        slot[newest] = tables.slots_for(keys, cands.shape[1], make)
        if (slot >= 0).all():
            return tables.gather(slot, cands)
        out = np.empty((*cands.shape, N_POP_FEATURES), np.float32)
        hit = slot >= 0
        if hit.any():
            out[hit] = tables.gather(slot[hit], cands[hit])
        miss = ~hit
        out[miss] = self.features(snap[miss], area[miss], meal[miss], hour[miss], cands[miss])
        return out

    def _table(self, snap, area, meal, hour, rows: np.ndarray) -> np.ndarray:
        """The features of every item for the queries ``rows``: ``(len(rows), n_items, N_POP_FEATURES)``."""
        items = np.broadcast_to(np.arange(self.glob.shape[1], dtype=np.int32), (len(rows), self.glob.shape[1]))
        return self.features(snap[rows], area[rows], meal[rows], hour[rows], items)

    @staticmethod
    def reference_score(pop: np.ndarray) -> np.ndarray:
        """The popularity ranking used as reference: log P(restaurant | area, meal) + log P(item | restaurant)."""
        return pop[..., 2] + pop[..., 4]

    def top_items(self, snap: np.ndarray, area: np.ndarray, meal: np.ndarray, n: int) -> np.ndarray:
        """The ``n`` most popular items per query: the reference score over all items, as item indices.

        Depends only on (snapshot, area, meal time), so each combination is computed once and cached.
        """
        keys = (np.asarray(snap, np.int64) * len(self.rest_area[0]) + np.asarray(area)) * N_MEALS + np.asarray(meal)
        cache = self.__dict__.setdefault("_top_cache", {})
        tops = [cache.get((key, n)) for key in keys.tolist()]
        if tops and all(top is not None for top in tops):  # the usual case in service
            return np.stack(tops)
        uniq, inverse = np.unique(keys, return_inverse=True)
        missing = [i for i, key in enumerate(uniq) if (int(key), n) not in cache]
        if missing:
            rows = np.array([np.flatnonzero(inverse == i)[0] for i in missing])
            tops = self._top_items(np.asarray(snap)[rows], np.asarray(area)[rows], np.asarray(meal)[rows], n)
            for i, top in zip(missing, tops, strict=True):
                cache[(int(uniq[i]), n)] = top
        return np.stack([cache[(int(key), n)] for key in uniq])[inverse]

    def _top_items(self, snap: np.ndarray, area: np.ndarray, meal: np.ndarray, n: int) -> np.ndarray:
        n_items = self.glob.shape[1]
        cands = np.broadcast_to(np.arange(n_items, dtype=np.int32), (len(snap), n_items))
        score = self.reference_score(self.features(snap, area, meal, np.zeros(len(snap)), cands))
        score[:, 0] = -np.inf
        n = min(n, n_items - 1)
        if n <= 0:
            return np.zeros((len(score), 0), np.int32)
        top = np.argpartition(-score, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(score, top, 1), axis=1, kind="stable")
        return np.take_along_axis(top, order, 1).astype(np.int32)


def _flat(table: np.ndarray) -> np.ndarray:
    """``table`` as one dimension, a view (the counts are C-ordered; a copy only for an odd one)."""
    return table.reshape(-1)


TABLE_FLOATS = 4_000_000  # all cached feature tables together (16 MiB); a catalogue above this caches none
TABLE_AFTER = 1.0  # catalogues' worth of candidates a combination is asked for before it gets a table


class _FeatureTables:
    """Feature tables of the whole catalogue by (area, meal time, hour) on the newest snapshot
    (:meth:`Popularity.gather_features`), at most
    ``TABLE_FLOATS`` floats, the first built dropped first; a combination gets its table once its queries have asked
    for ``n_items`` candidates since the last :meth:`clear`."""

    def __init__(self, n_items: int) -> None:
        self.n_items = n_items
        self.slots = min(int(TABLE_FLOATS // (n_items * N_POP_FEATURES)), 256)
        self.store: np.ndarray | None = None
        self.slot: dict[int, int] = {}  # combination -> row of ``store``, oldest built first
        self.demand: dict[int, int] = {}  # combination -> candidates asked for without a table

    def clear(self) -> None:
        self.slot.clear()
        self.demand.clear()

    def slots_for(self, keys: np.ndarray, n_cands: int, make) -> np.ndarray:
        """Per query, its table's row in ``store`` (-1: none yet); builds the tables now due with ``make(rows)``."""
        found = [self.slot.get(key, -1) for key in keys.tolist()]
        if min(found) >= 0:  # the usual case in service: every combination has its table
            return np.asarray(found, np.intp)
        uniq, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        found = np.asarray([self.slot.get(key, -1) for key in uniq.tolist()], np.intp)
        due = []
        for j in np.flatnonzero(found < 0).tolist():
            key = int(uniq[j])
            asked = self.demand.get(key, 0) + int(counts[j]) * n_cands
            if asked >= TABLE_AFTER * self.n_items:
                due.append(j)
                continue
            if len(self.demand) >= 1 << 14:  # many combinations seldom asked: start counting again
                self.demand.clear()
            self.demand[key] = asked
        if due:
            if self.store is None:
                self.store = np.empty((self.slots, self.n_items, N_POP_FEATURES), np.float32)
            free = sorted(set(range(self.slots)) - set(self.slot.values()))
            in_use = set(found[found >= 0].tolist())  # the oldest tables make room, never one this batch reads
            old = [key for key, s in self.slot.items() if s not in in_use]
            while len(free) < len(due) and old:
                free.append(self.slot.pop(old.pop(0)))
            due = due[: len(free)]
            if due:
                self.store[free[: len(due)]] = make(first[due])
                for j, s in zip(due, free, strict=False):
                    key = int(uniq[j])
                    self.demand.pop(key, None)
                    self.slot[key] = found[j] = s
        return found[inverse.reshape(-1)]

    def gather(self, slot: np.ndarray, cands: np.ndarray) -> np.ndarray:
        rows = (slot * self.n_items)[:, None] + cands
        return np.take(self.store.reshape(-1, N_POP_FEATURES), rows, axis=0)  # 4x faster than indexing


def popularity_features(xp, n: dict, n_items: int, n_restaurants: int, smoothing: float, hour_smoothing: float):
    """The one definition of the ten popularity features, from the counts gathered per candidate (``n``, keys
    as in :meth:`Popularity.features`). ``xp`` is ``numpy`` (ranking, training) or ``keras.ops`` (the exported
    ``PopularityFeatures`` layer), so both compute exactly this; a parity test covers every feature.

    >>> import numpy as np
    >>> one = {k: np.ones((1, 1)) for k in ("glob", "glob_tot", "short", "short_tot", "area", "area_tot",
    ...     "rest_glob", "rest_size", "rest_area", "rest_area_tot", "rest_area_meal", "rest_area_meal_tot",
    ...     "rest_hour", "rest_hour_tot", "city_hour_share", "ret", "ret_gap", "ret_tot", "ret_gap_tot",
    ...     "first_ram", "first_ram_tot")}
    >>> popularity_features(np, one, 1, 1, 20.0, 1.0).shape
    (1, 1, 10)
    """
    g_share = (n["glob"] + 0.01) / (n["glob_tot"] + 0.01 * n_items)
    a_share = (n["area"] + smoothing * g_share) / (n["area_tot"] + smoothing)
    rg_share = (n["rest_glob"] + 0.01) / (n["glob_tot"] + 0.01 * n_restaurants)
    ra_share = (n["rest_area"] + smoothing * rg_share) / (n["rest_area_tot"] + smoothing)
    ram_share = (n["rest_area_meal"] + smoothing * ra_share) / (n["rest_area_meal_tot"] + smoothing)
    s_share = (n["short"] + 0.01) / (n["short_tot"] + 0.01 * n_items)
    within = (n["glob"] + 0.1) / (n["rest_glob"] + 0.1 * n["rest_size"])
    expected = n["rest_hour_tot"] * n["city_hour_share"]
    hour_lift = xp.log(n["rest_hour"] + hour_smoothing) - xp.log(expected + hour_smoothing)
    log_g = xp.log(g_share)
    # The item's returns (columns 7, 8): its share of lines that repeat the customer's earlier order of it, and the
    # typical gap of those returns, each smoothed towards the city's.
    city_rate = (n["ret_tot"] + 0.01) / (n["glob_tot"] + 0.02)
    return_rate = (n["ret"] + RETURN_SMOOTHING * city_rate) / (n["glob"] + RETURN_SMOOTHING)
    city_gap = (n["ret_gap_tot"] + 10.0) / (n["ret_tot"] + 1.0)
    return_gap = (n["ret_gap"] + GAP_SMOOTHING * city_gap) / (n["ret"] + GAP_SMOOTHING)
    # First orders (column 9): the restaurant's share of new customers' orders in area x meal time, smoothed
    # towards its share of all orders there (what the cold-start head reads).
    first_share = (n["first_ram"] + smoothing * ram_share) / (n["first_ram_tot"] + smoothing)
    features = [log_g, xp.log(a_share), xp.log(ram_share), xp.log(s_share) - log_g, xp.log(within)]
    returns = [xp.log(return_rate), xp.log1p(return_gap)]
    return xp.stack([*features, xp.log(ra_share), hour_lift, *returns, xp.log(first_share)], axis=-1)


def first_orders(lines: pd.DataFrame) -> np.ndarray:
    """Per encoded line (columns ``cust, t``): whether it belongs to the customer's first order in the lines (no
    earlier line of theirs); unknown customers (index 0) never.

    >>> first_orders(pd.DataFrame({"cust": [1, 1, 2, 1, 0], "t": [1.0, 1.0, 2.0, 3.0, 4.0]})).tolist()
    [True, True, True, False, False]
    """
    if len(lines) == 0:
        return np.zeros(0, bool)
    cust, t = lines["cust"].to_numpy(), lines["t"].to_numpy()
    first_t = pd.Series(t).groupby(cust).transform("min").to_numpy()
    return (t == first_t) & (cust > 0)


def return_gaps(lines: pd.DataFrame) -> np.ndarray:
    """Per encoded line (columns ``cust, item, t``, sorted by time): days since the same customer's previous line of
    the same item, ``inf`` for a first one (and for unknown customers, index 0).

    >>> lines = pd.DataFrame({"cust": [1, 1, 2, 1], "item": [5, 6, 5, 5], "t": [1.0, 2.0, 2.5, 4.0]})
    >>> return_gaps(lines).tolist()
    [inf, inf, inf, 3.0]
    """
    out = np.full(len(lines), np.inf)
    if len(lines) == 0:
        return out
    cust, item, t = (lines[c].to_numpy() for c in ("cust", "item", "t"))
    order = np.lexsort((t, item, cust))
    c, i, tt = cust[order], item[order], t[order]
    same = np.r_[False, (c[1:] == c[:-1]) & (i[1:] == i[:-1])] & (c > 0)
    gap = np.full(len(order), np.inf)
    gap[same] = (tt[1:] - tt[:-1])[same[1:]]
    out[order] = gap
    return out
