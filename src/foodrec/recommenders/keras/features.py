"""Features of the Keras recommender, computed from the past only.

Three pieces of state are built from a training :class:`~foodrec.data.orderlog.OrderLog`:

* :class:`FeatureSpace` - id vocabularies (customers, areas, items, restaurants; index 0 = unknown/padding),
  the item -> restaurant map and the data's time zone;
* :class:`History` - every customer's past order lines, sorted by time, so that for a query at time ``t`` the
  last ``H`` lines strictly before ``t`` are gathered in one vectorised step;
* :class:`Popularity` - recency-decayed popularity snapshots (global, per area, per area x meal time), each one
  computed from the orders before its snapshot time.

:class:`BatchBuilder` turns examples (customer, area, time, and for training the ordered items) into the model's
inputs: candidate items, the customer's recent history and per-candidate popularity. For an example at time ``t``
only orders before ``feature_time = min(t, cutoff)`` are used, so training examples never see their own or later
orders, and validation/test examples see only the training period.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> orders = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c1", "c2"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 19:00", "2026-01-03 12:00"], utc=True),
...     "area": ["a1", "a1", "a2"], "restaurant_id": ["r1", "r2", "r1"]})
>>> space = FeatureSpace.fit(OrderLog(orders), "restaurant")
>>> space.items.encode(["r2", "zz"]).tolist()
[2, 0]
>>> history = History.build(space, order_lines(OrderLog(orders), space))
>>> items, rests, ages = history.gather(space.customers.encode(["c1"]), to_days(["2026-01-03"]),
...                                     to_days(["2026-01-03"]), depth=4)
>>> items.tolist()   # most recent first, padded with 0
[[2, 1, 0, 0]]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.data.time_features import MEAL_TIMES, local_time

DAY_NS = 86_400 * 10**9
FEW = 64  # up to this many queries per call, the per-element paths below beat pandas' fixed cost
N_MEALS = len(MEAL_TIMES)
N_POP_FEATURES = 7
N_HOURS = 24
# Key of (customer, time) in one sortable float: customer * _KEY_SPAN + days since 1970 (valid until year 2243).
_KEY_SPAN = 100_000.0


def to_days(at: object) -> np.ndarray:
    """UTC timestamps as float days since 1970-01-01 (the time axis of every feature)."""
    series = pd.to_datetime(pd.Series(at), utc=True).dt.as_unit("ns")  # pandas 3 may hold us or s units
    return series.astype("int64").to_numpy() / DAY_NS


def local_clock(at: object, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local fractional hour (0-24), day of week (Mon = 0) and meal-time code of UTC timestamps."""
    local = local_time(pd.Series(at), timezone)
    hour = (local.dt.hour + local.dt.minute / 60.0).to_numpy(dtype=np.float32)
    dow = local.dt.dayofweek.to_numpy(dtype=np.float32)
    return hour, dow, meal_codes(hour)


def meal_codes(hour: np.ndarray) -> np.ndarray:
    """Meal-time index into ``MEAL_TIMES`` for local fractional hours (same bins as ``time_features``)."""
    from foodrec.data.time_features import _HOUR_TO_MEAL

    return _HOUR_TO_MEAL[np.clip(np.asarray(hour, dtype=np.int64), 0, 23)].astype(np.int32)


class Vocab:
    """Strings -> indices 1..n; 0 stands for unknown (and padding).

    >>> v = Vocab(["b", "a", "b"])
    >>> v.encode(["a", "b", None, "c"]).tolist(), len(v)
    ([1, 2, 0, 0], 3)
    """

    def __init__(self, values: object):
        series = pd.Series(values, dtype=object).dropna().astype(str)
        self.ids = np.asarray(sorted(series.unique()), dtype=object)
        self._index = pd.Index(self.ids)

    def __len__(self) -> int:
        return len(self.ids) + 1

    def encode(self, values: object) -> np.ndarray:
        if isinstance(values, (pd.Series, np.ndarray, list, tuple)) and len(values) <= FEW:
            # A few ids (a served request): a dict lookup, without pandas' fixed cost of ~0.3 ms a call.
            lookup = self._lookup
            return np.asarray(
                [0 if v is None or v != v else lookup.get(v if isinstance(v, str) else str(v), 0) for v in values],
                dtype=np.int32,
            )
        vals = pd.Series(values, dtype=object)
        vals = vals.where(vals.notna(), "\x00").astype(str)
        return (self._index.get_indexer(vals) + 1).astype(np.int32)

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {v: i + 1 for i, v in enumerate(self.ids.tolist())}

    def decode(self, indices: np.ndarray) -> np.ndarray:
        table = np.concatenate([np.asarray([None], dtype=object), self.ids])
        return table[np.asarray(indices)]


@dataclass
class FeatureSpace:
    """Vocabularies and static facts of the training log."""

    level: str
    timezone: str
    customers: Vocab
    areas: Vocab
    items: Vocab
    restaurants: Vocab
    item_restaurant: np.ndarray  # item index -> restaurant index (0 for padding)

    @property
    def dish(self) -> bool:
        return self.level == "dish"

    @classmethod
    def fit(cls, log: OrderLog, level: str) -> FeatureSpace:
        orders = log.orders
        col = target_column(level)
        targets = orders.dropna(subset=[col])
        items = Vocab(targets[col])
        restaurants = Vocab(orders["restaurant_id"])
        item_rest = np.zeros(len(items), dtype=np.int32)
        if level == "dish":
            pairs = targets[[col, "restaurant_id"]].drop_duplicates(col, keep="last")
            item_rest[items.encode(pairs[col])] = restaurants.encode(pairs["restaurant_id"])
        else:
            item_rest[1:] = restaurants.encode(items.ids)
        return cls(
            level,
            log.timezone or "UTC",
            Vocab(orders["customer_id"]),
            Vocab(orders["area"]),
            items,
            restaurants,
            item_rest,
        )

    def to_json(self) -> dict:
        return {
            "level": self.level,
            "timezone": self.timezone,
            "customers": self.customers.ids.tolist(),
            "areas": self.areas.ids.tolist(),
            "items": self.items.ids.tolist(),
            "restaurants": self.restaurants.ids.tolist(),
            "item_restaurant": self.item_restaurant.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict) -> FeatureSpace:
        return cls(
            data["level"],
            data["timezone"],
            Vocab(data["customers"]),
            Vocab(data["areas"]),
            Vocab(data["items"]),
            Vocab(data["restaurants"]),
            np.asarray(data["item_restaurant"], np.int32),
        )


def order_lines(log: OrderLog, space: FeatureSpace) -> pd.DataFrame:
    """One row per (order, target) with encoded ids, time in days and local meal time, sorted by time."""
    col = target_column(space.level)
    lines = log.orders.dropna(subset=[col, "ordered_at"])
    lines = lines.drop_duplicates(["order_id", col])
    if lines.empty:
        return pd.DataFrame(
            {k: np.zeros(0, dtype=np.int32) for k in ("cust", "area", "item", "rest", "meal")}
            | {
                "t": np.zeros(0),
                "order": np.zeros(0, dtype=object),
                "hour": np.zeros(0, np.float32),
                "dow": np.zeros(0, np.float32),
            }
        )
    hour, dow, meal = local_clock(lines["ordered_at"], space.timezone)
    frame = pd.DataFrame(
        {
            "order": lines["order_id"].astype(str).to_numpy(),
            "cust": space.customers.encode(lines["customer_id"]),
            "area": space.areas.encode(lines["area"]),
            "t": to_days(lines["ordered_at"]),
            "item": space.items.encode(lines[col]),
            "rest": space.restaurants.encode(lines["restaurant_id"]),
            "hour": hour,
            "dow": dow,
            "meal": meal,
        }
    )
    return frame.sort_values(["t", "order"], kind="stable").reset_index(drop=True)


@dataclass
class History:
    """Past order lines sorted by (customer, time): the customer's history at any moment, vectorised."""

    key: np.ndarray  # customer * _KEY_SPAN + t, sorted
    cust_start: np.ndarray  # cust_start[c] = first row of customer c (length n_customers + 1)
    item: np.ndarray
    rest: np.ndarray
    t: np.ndarray

    @classmethod
    def build(cls, space: FeatureSpace, lines: pd.DataFrame) -> History:
        known = lines[lines["cust"] > 0]
        order = np.lexsort((known["t"].to_numpy(), known["cust"].to_numpy()))
        cust = known["cust"].to_numpy()[order].astype(np.int64)
        t = known["t"].to_numpy()[order]
        starts = np.searchsorted(cust, np.arange(len(space.customers) + 1))
        return cls(
            cust * _KEY_SPAN + t,
            starts.astype(np.int64),
            known["item"].to_numpy()[order].astype(np.int32),
            known["rest"].to_numpy()[order].astype(np.int32),
            t,
        )

    def window(self, cust: np.ndarray, feature_time: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the last ``depth`` lines before ``feature_time`` per query, most recent first, and their validity."""
        cust = np.asarray(cust, dtype=np.int64)
        cust_c = np.clip(cust, 0, len(self.cust_start) - 2)
        start = self.cust_start[cust_c]
        end = np.searchsorted(self.key, cust_c * _KEY_SPAN + np.asarray(feature_time), side="left")
        end = np.maximum(end, start)
        idx = end[:, None] - 1 - np.arange(depth)[None, :]
        valid = (idx >= start[:, None]) & (cust[:, None] > 0)
        return np.where(valid, idx, 0), valid

    def gather(self, cust: np.ndarray, feature_time: np.ndarray, at: np.ndarray, depth: int):
        """The last ``depth`` lines before ``feature_time`` per query: items, restaurants, age in days at ``at``.

        Unknown customers (index 0) and lines beyond the history are padding: item 0, age 1e4 days.
        """
        idx, valid = self.window(cust, feature_time, depth)
        if len(self.item) == 0:
            valid[:] = False
            idx[:] = 0
            items = np.zeros(idx.shape, np.int32)
            return items, items.copy(), np.full(idx.shape, 1e4, np.float32)
        items = np.where(valid, self.item[idx], 0).astype(np.int32)
        rests = np.where(valid, self.rest[idx], 0).astype(np.int32)
        ages = np.where(valid, np.asarray(at)[:, None] - self.t[idx], 1e4).astype(np.float32)
        return items, rests, ages

    def save(self, path: Path) -> None:
        np.savez_compressed(path, key=self.key, cust_start=self.cust_start, item=self.item, rest=self.rest, t=self.t)

    @classmethod
    def load(cls, path: Path) -> History:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["key"], data["cust_start"], data["item"], data["rest"], data["t"])


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
        per_snapshot = n_items * (n_areas + 2) + n_rest * (n_areas * (N_MEALS + 1) + N_HOURS)
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
            sh *= fs
            ar *= f
            ram *= f
            rh *= 0.5 ** (dt / hour_half_life)
            if hi > lo:
                w = 0.5 ** ((tk - t_all[lo:hi]) / half_life)
                ws = 0.5 ** ((tk - t_all[lo:hi]) / short_half_life)
                it, a, m = item[lo:hi], ar_idx[lo:hi], meal[lo:hi]
                g += np.bincount(it, w, n_items)
                sh += np.bincount(it, ws, n_items)
                np.add.at(ar, (a, it), w)
                np.add.at(ram, (a, m, rest[lo:hi]), w)
                np.add.at(rh, (rest[lo:hi], hour[lo:hi]), 0.5 ** ((tk - t_all[lo:hi]) / hour_half_life))
            glob[k], short[k], area[k] = g, sh, ar
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
        )

    def __post_init__(self) -> None:
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
        city_hour = self.rest_hour.sum(axis=1)  # (S, 24)
        self._city_hour_share = (city_hour + 0.5) / (city_hour.sum(axis=-1, keepdims=True) + 0.5 * N_HOURS)

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
        snap = snap[:, None]
        a = np.asarray(area)[:, None]
        m = np.asarray(meal)[:, None]
        h = np.clip(np.asarray(hour, dtype=np.int64), 0, N_HOURS - 1)[:, None]
        r = self.item_restaurant[cands]
        n_items, n_rest = self.glob.shape[1], self.rest_area.shape[-1]
        g_share = (self.glob[snap, cands] + 0.01) / (self._glob_tot[snap] + 0.01 * n_items)
        a_share = (self.area[snap, a, cands] + smoothing * g_share) / (self._area_tot[snap, a] + smoothing)
        rg_share = (self._rest_glob[snap, r] + 0.01) / (self._glob_tot[snap] + 0.01 * n_rest)
        ra_share = (self.rest_area[snap, a, r] + smoothing * rg_share) / (self._rest_area_tot[snap, a] + smoothing)
        ram_share = (self.rest_area_meal[snap, a, m, r] + smoothing * ra_share) / (
            self._rest_area_meal_tot[snap, a, m] + smoothing
        )
        s_share = (self.short[snap, cands] + 0.01) / (self._short_tot[snap] + 0.01 * n_items)
        within = (self.glob[snap, cands] + 0.1) / (self._rest_glob[snap, r] + 0.1 * self._rest_size[r])
        expected = self._rest_hour_tot[snap, r] * self._city_hour_share[snap, h]
        hour_lift = np.log(self.rest_hour[snap, r, h] + hour_smoothing) - np.log(expected + hour_smoothing)
        out = np.stack(
            [
                np.log(g_share),
                np.log(a_share),
                np.log(ram_share),
                np.log(s_share) - np.log(g_share),
                np.log(within),
                np.log(ra_share),
                hour_lift,
            ],
            -1,
        )
        return out.astype(np.float32)

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

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            times=self.times,
            glob=self.glob,
            short=self.short,
            area=self.area,
            rest_area=self.rest_area,
            rest_area_meal=self.rest_area_meal,
            rest_top=self.rest_top,
            rest_hour=self.rest_hour,
            item_restaurant=self.item_restaurant,
            half_life=self.half_life,
            short_half_life=self.short_half_life,
            hour_half_life=self.hour_half_life,
        )

    @classmethod
    def load(cls, path: Path) -> Popularity:
        with np.load(path, allow_pickle=False) as d:
            return cls(
                d["times"],
                d["glob"],
                d["short"],
                d["area"],
                d["rest_area"],
                d["rest_area_meal"],
                d["rest_top"],
                d["rest_hour"],
                d["item_restaurant"],
                float(d["half_life"]),
                float(d["short_half_life"]),
                float(d["hour_half_life"]),
            )


@dataclass
class Examples:
    """Queries (and, for training, the ordered items) as encoded arrays, one row per order."""

    cust: np.ndarray
    area: np.ndarray
    at: np.ndarray  # days
    hour: np.ndarray
    dow: np.ndarray
    meal: np.ndarray
    positives: np.ndarray  # (n, P) item indices, 0 = padding; may be all 0 for queries

    def __len__(self) -> int:
        return len(self.cust)

    def take(self, idx: np.ndarray) -> Examples:
        return Examples(*(getattr(self, f)[idx] for f in ("cust", "area", "at", "hour", "dow", "meal", "positives")))

    @classmethod
    def from_lines(cls, lines: pd.DataFrame, max_positives: int = 8) -> Examples:
        """One example per order: its customer, area, time and up to ``max_positives`` ordered items."""
        grouped = lines.groupby("order", sort=False)
        first = grouped.head(1).reset_index(drop=True)
        rank = grouped.cumcount().to_numpy()
        keep = rank < max_positives
        row = pd.Index(first["order"]).get_indexer(lines["order"][keep])
        pos = np.zeros((len(first), max_positives), np.int32)
        pos[row, rank[keep]] = lines["item"].to_numpy()[keep]
        first = first.assign(_o=np.arange(len(first))).sort_values(["t", "_o"], kind="stable")
        order = first["_o"].to_numpy()
        return cls(
            first["cust"].to_numpy(np.int32),
            first["area"].to_numpy(np.int32),
            first["t"].to_numpy(),
            first["hour"].to_numpy(np.float32),
            first["dow"].to_numpy(np.float32),
            first["meal"].to_numpy(np.int32),
            pos[order],
        )

    @classmethod
    def from_queries(cls, space: FeatureSpace, queries: pd.DataFrame) -> Examples:
        n = len(queries)
        if n <= FEW:
            at, hour, dow, meal = _few_times(queries["at"], space.timezone)
        else:
            hour, dow, meal = local_clock(queries["at"], space.timezone)
            at = to_days(queries["at"])
        return cls(
            space.customers.encode(queries["customer_id"]),
            space.areas.encode(queries["area"]),
            at,
            hour,
            dow,
            meal,
            np.zeros((n, 1), np.int32),
        )


def _few_times(at: pd.Series, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`to_days` and :func:`local_clock` for a few timestamps, element by element (same values).

    pandas' vectorised time zone conversion costs ~0.8 ms a call whatever the length: most of a served request.
    """
    zone = ZoneInfo(timezone)
    stamps = [pd.Timestamp(t) for t in at]
    stamps = [t.tz_localize("UTC") if t.tzinfo is None else t for t in stamps]
    local = [t.tz_convert(zone) for t in stamps]
    hour = np.asarray([t.hour + t.minute / 60.0 for t in local], dtype=np.float32)
    dow = np.asarray([t.dayofweek for t in local], dtype=np.float32)
    days = np.asarray([t.value for t in stamps], dtype=np.int64) / DAY_NS
    return days, hour, dow, meal_codes(hour)


@dataclass
class BatchBuilder:
    """Model inputs for a batch of examples.

    Ranking (``force_positives=False``): with a catalogue of at most ``full_max`` items every item is a candidate;
    otherwise candidates are retrieved: the customer's recent items, the dishes of their recent restaurants, then
    popular items in the area at that meal time, up to ``n_candidates``.

    Training (``force_positives=True``): all items when there are at most ``train_full_max``, otherwise a sampled
    softmax over ``n_candidates``: the ordered items and the customer's past items, then uniform random items, with
    ``logq`` (log inclusion probability) so that the corrected scores approximate the whole-catalogue softmax.
    """

    space: FeatureSpace
    history: History
    popularity: Popularity
    depth: int = 50
    n_candidates: int = 200
    full_max: int = 5000
    cutoff: float = np.inf
    train_full_max: int = 600
    seed: int = 0
    n_train_candidates: int = 400

    @property
    def full(self) -> bool:
        return len(self.space.items) - 1 <= self.full_max

    def candidates(self, ex: Examples, hist_items: np.ndarray, snap: np.ndarray, force_positives: bool):
        n = len(ex)
        n_items = len(self.space.items) - 1
        limit = self.train_full_max if force_positives else self.full_max
        if n_items <= limit:
            return np.broadcast_to(np.arange(1, n_items + 1, dtype=np.int32), (n, n_items))
        c = self.n_candidates
        if not force_positives:
            recent_rests = _first_unique(self.space.item_restaurant[hist_items], 10)
            rest_dishes = self.popularity.rest_top[snap[:, None], recent_rests].reshape(n, -1)
            pool = [hist_items, rest_dishes, self.popularity.top_items(snap, ex.area, ex.meal, c)]
            return _first_unique(np.concatenate(pool, axis=1), c)
        # Sampled softmax: the ordered items and the customer's own items always, then uniform random items.
        # build() adds log(inclusion probability) of the random ones, so training approximates the full softmax.
        rng = self.__dict__.setdefault("_rng", np.random.default_rng(self.seed))
        fixed = _first_unique(np.concatenate([ex.positives, hist_items], axis=1), ex.positives.shape[1] + self.depth)
        c = self.n_train_candidates
        random_part = rng.integers(1, n_items + 1, (n, c), dtype=np.int32)
        return _first_unique(np.concatenate([fixed, random_part], axis=1), c)

    def build(self, ex: Examples, force_positives: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``(inputs, targets)``; ``targets`` is the ordered items' share of each candidate (rows sum to 1 or 0)."""
        ft = np.minimum(ex.at, self.cutoff)
        hist_items, hist_rest, ages = self.history.gather(ex.cust, ft, ex.at, self.depth)
        snap = self.popularity.snapshot_index(ft)
        raw = self.candidates(ex, hist_items, snap, force_positives)
        cands = np.ascontiguousarray(raw)
        hour = np.clip(ex.hour.astype(np.int64), 0, N_HOURS - 1)
        if raw.strides[0] == 0 and len(ex):  # the whole catalogue: popularity depends on (snapshot, area, hour) only
            key = (snap.astype(np.int64) * len(self.space.areas) + ex.area) * N_HOURS + hour
            uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            table = self.popularity.features(
                snap[first], ex.area[first], ex.meal[first], hour[first], cands[: len(uniq)]
            )
            pop = table[inverse]
        else:
            pop = self.popularity.features(snap, ex.area, ex.meal, hour, cands)
        logq = np.zeros(cands.shape, np.float32)
        n_items = len(self.space.items) - 1
        if force_positives and n_items > self.train_full_max:
            own = ((cands[:, :, None] == ex.positives[:, None, :]) & (ex.positives[:, None, :] > 0)).any(2)
            own |= ((cands[:, :, None] == hist_items[:, None, :]) & (hist_items[:, None, :] > 0)).any(2)
            q = 1.0 - (1.0 - 1.0 / n_items) ** self.n_train_candidates
            logq = np.where(own | (cands == 0), 0.0, np.log(q)).astype(np.float32)
        n_hist = (hist_items > 0).sum(axis=1)
        # A customer without history is unknown at serving time too: hide the id so the model learns cold start.
        cust = np.where(n_hist > 0, ex.cust, 0)
        inputs = {
            "customer": cust.astype(np.int32),
            "area": ex.area.astype(np.int32),
            "clock": np.stack([ex.hour, ex.dow], axis=1).astype(np.float32),
            "candidates": cands.astype(np.int32),
            "candidate_restaurants": self.space.item_restaurant[cands],
            "history_items": hist_items,
            "history_restaurants": hist_rest,
            "history_age": ages,
            "popularity": pop,
            "logq": logq,
        }
        pos = ex.positives
        hit = (cands[:, :, None] == pos[:, None, :]) & (pos[:, None, :] > 0)
        y = hit.any(axis=2).astype(np.float32)
        y /= np.maximum(y.sum(axis=1, keepdims=True), 1.0)
        return inputs, y


def _first_unique(pool: np.ndarray, n: int) -> np.ndarray:
    """Per row, the first ``n`` distinct non-zero values in order; padded with 0."""
    rows, width = pool.shape
    order = np.argsort(pool, axis=1, kind="stable")
    sorted_ = np.take_along_axis(pool, order, 1)
    dup = np.zeros_like(sorted_, dtype=bool)
    dup[:, 1:] = sorted_[:, 1:] == sorted_[:, :-1]
    dup |= sorted_ == 0
    drop = np.zeros_like(dup)
    np.put_along_axis(drop, order, dup, 1)
    keep_order = np.argsort(drop, axis=1, kind="stable")[:, :n]
    out = np.take_along_axis(pool, keep_order, 1)
    out[np.take_along_axis(drop, keep_order, 1)] = 0
    if out.shape[1] < n:
        out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return out.astype(np.int32)


def save_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))
