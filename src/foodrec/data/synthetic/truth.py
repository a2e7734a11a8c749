"""Ground truth of a synthetic city: the true choice utilities for any customer x item x time.

The oracle ranks by :meth:`GroundTruth.scores`; the customer simulator draws from
:meth:`GroundTruth.choice_probabilities`. Both take the customer's *past* order lines as ``history``
(canonical columns; at least ``order_id, customer_id, ordered_at, restaurant_id`` and, for dishes,
``item_id``), because the habit term depends on what the customer ordered before the query time.

>>> truth = GroundTruth.load("runs/demo/city")                      # doctest: +SKIP
>>> queries = make_queries(["c0000001"], ["9q5cc"], ["2026-02-20T19:30Z"])   # doctest: +SKIP
>>> items, u = truth.scores(queries, history=log.orders, level="dish")       # doctest: +SKIP
>>> items[u[0].argsort()[::-1][:10]]                                # the oracle's top 10   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from foodrec.data.synthetic.choice import habit_from_history, item_utilities, restaurant_utilities
from foodrec.data.synthetic.city import World
from foodrec.errors import InputError

NS_PER_DAY = 86_400 * 10**9
CHUNK = 1024  # queries per block: bounds memory at dish level (CHUNK x n_items floats)


class GroundTruth:
    """The world and choice model of a generated city (see docs/synthetic.md)."""

    def __init__(self, world: World):
        self.world = world
        self._penalty = world.delivery_penalty()
        self._cust_index = pd.Index(world.customer_ids.astype(str))
        self._area_index = pd.Index(world.area_ids.astype(str))
        self._rest_index = pd.Index(world.restaurant_ids.astype(str))
        self._item_index = pd.Index(world.item_ids.astype(str))
        # scores() is called again and again with the same history (chunks of queries): encode it once
        self._history_cache: tuple[object, int, dict[str, np.ndarray] | None] | None = None

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> GroundTruth:
        """Load from a generated city directory, a store holding ``truth/``, or the ``truth/`` folder itself."""
        path = Path(directory)
        for candidate in (path / "truth", path):
            if (candidate / "world.npz").is_file():
                return cls(World.load(candidate))
        raise InputError(f"{str(path)!r} holds no synthetic ground truth (no truth/world.npz)")

    @property
    def timezone(self) -> str:
        return str(self.world.params["timezone"])

    def item_ids(self, level: str = "dish") -> np.ndarray:
        """Ids of the columns of :meth:`scores` for ``level``."""
        if level == "dish":
            return self.world.item_ids.astype(str)
        if level == "restaurant":
            return self.world.restaurant_ids.astype(str)
        raise InputError(f"unknown level {level!r}: choose one of dish, restaurant")

    def scores(
        self, queries: pd.DataFrame, history: pd.DataFrame | None = None, level: str = "dish"
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(item_ids, utilities)``: utilities has shape ``(len(queries), len(item_ids))``, ``-inf`` = unavailable.

        ``queries`` has columns ``customer_id, area, at`` (a missing area means the customer's home area).
        Only history strictly before each query's ``at`` counts.
        """
        ids = self.item_ids(level)
        q = self._encode_queries(queries)
        h = self._encode_history(history)
        out = np.empty((len(q["cust"]), len(ids)))
        for lo in range(0, len(q["cust"]), CHUNK):
            sl = slice(lo, lo + CHUNK)
            out[sl] = self._block(q, h, sl, level)
        return ids, out

    def choice_probabilities(
        self,
        queries: pd.DataFrame,
        history: pd.DataFrame | None = None,
        level: str = "dish",
        slates: np.ndarray | None = None,
        slate_boost: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities that the customer orders each item (softmax of :meth:`scores` per row).

        Without ``slates``: ``(item_ids, probs)`` with probs of shape ``(n, n_items)``, rows summing to 1.
        With ``slates`` (``(n, k)`` item ids a service shows; None = empty slot): the shown items' utilities get
        ``+slate_boost`` (attention) and the result is ``(slates, probs)`` with probs of shape ``(n, k + 1)``:
        the chance of ordering each shown item, and in the last column of ordering something not shown.
        """
        ids, u = self.scores(queries, history, level)
        if slates is not None:
            slates = np.asarray(slates, dtype=object)
            if slates.ndim != 2 or len(slates) != len(u):
                raise InputError("slates must have shape (n_queries, k)")
            pos = pd.Index(ids).get_indexer(_ids(pd.Series(slates.reshape(-1)))).reshape(slates.shape)
            rows = np.repeat(np.arange(len(u))[:, None], slates.shape[1], axis=1)
            valid = pos >= 0
            u[rows[valid], pos[valid]] += slate_boost
        m = np.max(u, axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        e = np.exp(u - m)
        p = e / np.maximum(e.sum(axis=1, keepdims=True), 1e-300)
        if slates is None:
            return ids, p
        shown = np.where(valid, p[rows, np.maximum(pos, 0)], 0.0)
        # an item shown twice counts once
        dup = np.zeros_like(valid)
        for j in range(1, slates.shape[1]):
            dup[:, j] = (pos[:, [j]] == pos[:, :j]).any(axis=1) & valid[:, j]
        shown[dup] = 0.0
        return slates, np.c_[shown, np.clip(1.0 - shown.sum(axis=1), 0.0, 1.0)]

    # -- internals ------------------------------------------------------------------------
    def _encode_queries(self, queries: pd.DataFrame) -> dict[str, np.ndarray]:
        missing = {"customer_id", "area", "at"} - set(queries.columns)
        if missing:
            raise InputError(f"queries lack column(s) {', '.join(sorted(missing))}")
        cust = self._cust_index.get_indexer(_ids(queries["customer_id"]))
        area = self._area_index.get_indexer(_ids(queries["area"]))
        home = np.where(cust >= 0, self.world.cust_home[np.maximum(cust, 0)], -1)
        area = np.where(area >= 0, area, home)
        try:
            at = pd.to_datetime(queries["at"], utc=True, format="ISO8601")
        except (ValueError, TypeError) as err:
            raise InputError(f"queries: 'at' must be timestamps ({err})") from err
        if at.isna().any():
            raise InputError("queries: 'at' has missing timestamps")
        ns = pd.DatetimeIndex(at).as_unit("ns").asi8
        local = pd.DatetimeIndex(at).tz_convert(self.timezone)
        return {
            "cust": cust.astype(np.int64),
            "area": area.astype(np.int64),
            "t": ns / NS_PER_DAY,
            "hour": np.asarray(local.hour, dtype=np.int64),
            "dow": np.asarray(local.day_of_week, dtype=np.int64),
        }

    def _encode_history(self, history: pd.DataFrame | None) -> dict[str, np.ndarray] | None:
        if history is None or len(history) == 0:
            return None
        cache = self._history_cache
        if cache is not None and cache[0] is history and cache[1] == len(history):
            return cache[2]
        enc = self._encode_history_uncached(history)
        self._history_cache = (history, len(history), enc)
        return enc

    def _encode_history_uncached(self, history: pd.DataFrame) -> dict[str, np.ndarray]:
        need = {"order_id", "customer_id", "ordered_at", "restaurant_id"}
        if need - set(history.columns):
            raise InputError(f"history lacks column(s) {', '.join(sorted(need - set(history.columns)))}")
        at = pd.to_datetime(history["ordered_at"], utc=True, errors="coerce")
        ok = at.notna().to_numpy()
        hist = history.loc[ok]
        t = pd.DatetimeIndex(at[ok]).as_unit("ns").asi8 / NS_PER_DAY
        cust = self._cust_index.get_indexer(_ids(hist["customer_id"]))
        rest = self._rest_index.get_indexer(_ids(hist["restaurant_id"]))
        order = hist["order_id"].astype("object").to_numpy()
        # habits count each order once per restaurant and once per dish
        first_r = ~pd.DataFrame({"o": order, "r": rest}).duplicated().to_numpy()
        enc = {"r_cust": cust[first_r], "r_col": rest[first_r], "r_t": t[first_r]}
        if "item_id" in hist.columns:
            item = self._item_index.get_indexer(_ids(hist["item_id"]))
            first_d = ~pd.DataFrame({"o": order, "i": item}).duplicated().to_numpy() & (item >= 0)
            enc.update({"d_cust": cust[first_d], "d_col": item[first_d], "d_t": t[first_d]})
        return enc

    def _block(self, q: dict[str, np.ndarray], h: dict[str, np.ndarray] | None, sl: slice, level: str) -> np.ndarray:
        w = self.world
        tau = float(w.params["habit_tau_days"])
        cust, t = q["cust"][sl], q["t"][sl]
        habit = None
        if h is not None:
            habit = habit_from_history(cust, t, h["r_cust"], h["r_col"], h["r_t"], w.n_restaurants, tau)
        u = restaurant_utilities(w, cust, q["area"][sl], t, q["hour"][sl], q["dow"][sl], habit, self._penalty)
        if level == "restaurant":
            return u
        dish_habit = None
        if h is not None and "d_cust" in h:
            dish_habit = habit_from_history(cust, t, h["d_cust"], h["d_col"], h["d_t"], w.n_items, tau)
        return item_utilities(w, cust, u, dish_habit)


def _ids(values: pd.Series) -> np.ndarray:
    """Ids as strings for index lookups; missing values match nothing."""
    values = pd.Series(values)
    return np.where(values.isna().to_numpy(), "\x00missing", values.astype(str).to_numpy(dtype=object))
