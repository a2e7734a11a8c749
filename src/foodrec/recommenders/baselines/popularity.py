"""Popularity baselines, one class with a ``strategy`` (like scikit-learn's ``DummyClassifier``).

Strategies, each backed by the one before it so that nobody is left without an answer:

- ``global``: the most ordered items overall;
- ``area``: the most ordered in the query's area (neighbourhood), shrunk towards global popularity;
- ``area-mealtime``: the most ordered in the area at this meal time (local clock), shrunk towards the area;
- ``customer-history``: the customer's own past items by frequency and recency (each past order weighs
  ``0.5 ** (age_days / half_life_days)`` at the end of training), then area popularity for the rest.

Shrinkage keeps small areas honest: ``p_area(i) = (n_area(i) + prior * p_global(i)) / (n_area + prior)``,
so an unknown or missing area is exactly global popularity. Counts are orders containing the item.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> orders = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3", "o4"], "customer_id": ["c1", "c2", "c3", "c1"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00"] * 4, utc=True),
...     "area": ["north", "north", "south", "south"], "restaurant_id": ["r1", "r1", "r2", "r3"]})
>>> rec = AreaPopularity(area_prior=1.0).fit(OrderLog(orders))
>>> rec.recommend(make_queries(["new"], ["south"], ["2026-01-02T12:00Z"]), k=3).items.tolist()
[['r2', 'r3', 'r1']]
>>> CustomerHistory().fit(OrderLog(orders)).recommend(
...     make_queries(["c1"], ["north"], ["2026-01-02T12:00Z"]), k=2).items.tolist()
[['r1', 'r3']]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.data.time_features import MEAL_TIMES
from foodrec.errors import InputError
from foodrec.features.clock import parsed_times
from foodrec.recommenders.base import Ranking, Recommender, make_queries  # noqa: F401  (make_queries: doctest)
from foodrec.recommenders.baselines.common import (
    SparseCounts,
    area_meal_key,
    as_str_objects,
    check_queries,
    encode_contexts,
    item_vocabulary,
    query_meal_codes,
    rank_contexts,
    rank_own_first,
    ranking_of,
    top_k_contexts,
    training_pairs,
)
from foodrec.recommenders.reasons import order_counts, ordered_before, popular_in

STRATEGIES: tuple[str, ...] = ("global", "area", "area-mealtime", "customer-history")
# top_indices keeps the area counts dense up to this many cells (float64: 20M cells = 160 MB); sparse beyond.
DENSE_AREA_CELLS = 20_000_000
_TABLES = {"area": "area.parquet", "area_meal": "area_meal.parquet", "history": "history.parquet"}


class PopularityBaseline(Recommender):
    """Count-based recommender; ``strategy`` picks what the counts are conditioned on (see module doc).

    Args:
        level: ``"dish"`` or ``"restaurant"``; ``None`` takes the log's default at :meth:`fit`.
        strategy: one of :data:`STRATEGIES`.
        area_prior: pseudo-orders of global popularity mixed into each area.
        meal_prior: pseudo-orders of area popularity mixed into each (area, meal time) cell.
        half_life_days: recency half-life of a customer's past orders (``customer-history``).
    """

    name: ClassVar[str] = "popularity"
    default_strategy: ClassVar[str] = "area"
    # observe counts new orders into the tables in place (False: derived state a refit recomputes, e.g. co-occurrence)
    _observes_in_place: ClassVar[bool] = True

    def __init__(
        self,
        level: str | None = None,
        strategy: str | None = None,
        area_prior: float = 10.0,
        meal_prior: float = 10.0,
        half_life_days: float = 14.0,
    ):
        super().__init__(level=level)
        self.strategy = strategy or self.default_strategy
        if self.strategy not in STRATEGIES:
            raise InputError(f"unknown popularity strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        self.area_prior = float(area_prior)
        self.meal_prior = float(meal_prior)
        self.half_life_days = float(half_life_days)
        self.timezone = "UTC"
        self.trained_until: str | None = None
        self.items: np.ndarray | None = None
        self.item_counts: np.ndarray | None = None
        self.tables: dict[str, SparseCounts] = {}
        self._fast: dict[Any, Any] = {}  # top_indices' lookups, derived from the fitted tables (fit empties it)
        self._pending: list[pd.DataFrame] = []  # orders observed and counted in place, not yet in ``_log``

    # -- what each strategy needs ----------------------------------------------------
    def _needed_tables(self) -> tuple[str, ...]:
        return {
            "global": (),
            "area": ("area",),
            "area-mealtime": ("area", "area_meal"),
            "customer-history": ("area", "history"),
        }[self.strategy]

    def fit(self, log: OrderLog) -> PopularityBaseline:
        self.level = log.resolve_level(self.level)
        self.timezone = log.timezone
        self._fast, self._pending = {}, []
        pairs = training_pairs(log, self.level)
        self.items = item_vocabulary(pairs)
        n_items = len(self.items)
        codes = np.searchsorted(self.items, pairs["item"].to_numpy(dtype=object))
        self.item_counts = np.bincount(codes, minlength=n_items).astype(np.float64)
        end = pairs["at"].max()
        self.trained_until = end.isoformat()
        needed = self._needed_tables()
        ones = np.ones(len(pairs))
        if "area" in needed:
            frame = pd.DataFrame({"key": pairs["area"], "item": codes, "weight": ones})
            self.tables["area"] = SparseCounts.from_frame(frame, n_items)
        if "area_meal" in needed:
            frame = pd.DataFrame(
                {"key": area_meal_key(pairs["area"], pairs["meal"].to_numpy()), "item": codes, "weight": ones}
            )
            self.tables["area_meal"] = SparseCounts.from_frame(frame, n_items)
        if "history" in needed:
            age_days = (end - pairs["at"]).dt.total_seconds().to_numpy() / 86400.0
            weight = 0.5 ** (age_days / self.half_life_days)
            frame = pd.DataFrame({"key": pairs["customer_id"], "item": codes, "weight": weight})
            self.tables["history"] = SparseCounts.from_frame(frame, n_items)
        return self

    def observe(self, orders: pd.DataFrame) -> int:
        """:meth:`Recommender.observe`, counting the new orders in place (a refit of a million-line log costs
        seconds): the same counts as a refit on the grown log, since counts are orders containing the item. The
        history table's weights ``0.5 ** ((end - at) / half_life)`` all shrink by one factor when new orders move
        ``end`` on; a new customer gets a new row (keys are looked up by hash, not by order). New items or areas
        (or cells) change the vocabularies: then it refits."""
        log = getattr(self, "_log", None)
        if not self._observes_in_place or log is None or self.items is None:
            return super().observe(orders)
        fresh = self._unseen(orders)
        if fresh.empty:
            return 0
        frame = fresh[fresh[target_column(self.level)].notna() & fresh["ordered_at"].notna()]
        pairs = training_pairs(replace(log, orders=frame), self.level) if len(frame) else frame.iloc[:0]
        deltas: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if len(pairs):
            codes = np.searchsorted(self.items, pairs["item"].to_numpy(dtype=object))
            codes = np.minimum(codes, len(self.items) - 1)
            if not (self.items[codes] == pairs["item"].to_numpy(dtype=object)).all():
                return self._refit_observe(orders)  # an item the counts do not know yet
            keys = {"area": pairs["area"], "area_meal": area_meal_key(pairs["area"], pairs["meal"].to_numpy())}
            for name in self._needed_tables():
                if name == "history":
                    continue  # new customers are common: rows are added below
                rows = self.tables[name].codes(keys[name])
                known = keys[name].notna().to_numpy()
                if (rows[known] == len(self.tables[name].keys)).any():
                    return self._refit_observe(orders)  # a new area or (area, meal time) cell
                deltas[name] = (rows[known], codes[known])
            before = pd.Timestamp(self.trained_until) if self.trained_until else None
            end = max(before, pairs["at"].max()) if before is not None else pairs["at"].max()
            self.item_counts = self.item_counts + np.bincount(codes, minlength=len(self.items))
            for name, (rows, cols) in deltas.items():
                table = self.tables[name]
                delta = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=table.matrix.shape)
                table.matrix = (table.matrix + delta).tocsr()
            if "history" in self._needed_tables():
                self._count_history(pairs, codes, before, end)
            self.trained_until = end.isoformat()
            # The counts changed: drop what top_indices derived from them, but keep the id lookups (areas and cells
            # are the same ones, or it refitted above; new customers were added by _count_history). Rebuilding the
            # customer lookup cost ~100 ms on the large city's next request.
            self._fast = {
                key: value for key, value in self._fast.items() if isinstance(key, tuple) and key[0] == "keys"
            }
        # Joins the log before the next refit (concatenating a large log costs about a second).
        self._pending = [*getattr(self, "_pending", []), fresh]
        self._seen |= set(fresh["order_id"].tolist())
        return len(fresh)

    def _refit_observe(self, orders: pd.DataFrame) -> int:
        """:meth:`Recommender.observe`'s refit, on the log joined with the orders counted in place since the last
        one (joined only now: concatenating a large log costs about a second)."""
        if getattr(self, "_pending", None):
            self._log = replace(self._log, orders=pd.concat([self._log.orders, *self._pending], ignore_index=True))
            self._pending = []
        return super().observe(orders)

    def _count_history(self, pairs: pd.DataFrame, codes: np.ndarray, before: pd.Timestamp | None, end: Any) -> None:
        """Add new order pairs to the history table as :meth:`fit` weighs them at ``end``: the old weights (at
        ``before``) times ``0.5 ** ((end - before) / half_life)``, new customers as rows appended before the empty
        "unknown" row (which then becomes the first new customer's row: it holds nothing)."""
        table = self.tables["history"]
        customers = pairs["customer_id"]
        known = customers.notna().to_numpy()
        rows = table.codes(customers)
        unknown = len(table.keys)
        new_keys = pd.unique(customers[known & (rows == unknown)].to_numpy(dtype=object))
        matrix = table.matrix
        if len(new_keys):
            lookup = self._fast.get(("keys", "history"))
            if lookup is not None:  # top_indices' dict of customer rows: the new ones are appended in this order
                lookup.update((str(key), len(table.keys) + i) for i, key in enumerate(new_keys))
            table.keys = table.keys.append(pd.Index(new_keys, dtype=object))
            indptr = np.concatenate([matrix.indptr, np.full(len(new_keys), matrix.indptr[-1], matrix.indptr.dtype)])
            shape = (matrix.shape[0] + len(new_keys), matrix.shape[1])
            matrix = sparse.csr_matrix((matrix.data, matrix.indices, indptr), shape=shape)
            rows = table.codes(customers)
        if before is not None and end > before:
            matrix = matrix * (0.5 ** ((end - before).total_seconds() / 86400.0 / self.half_life_days))
        age_days = (end - pairs["at"][known]).dt.total_seconds().to_numpy() / 86400.0
        weight = 0.5 ** (age_days / self.half_life_days)
        delta = sparse.csr_matrix((weight, (rows[known], codes[known])), shape=matrix.shape)
        table.matrix = (matrix + delta).tocsr()

    def _orders_so_far(self) -> list[pd.DataFrame]:
        """The refreshed log's orders and those observed since (counted in place, not yet joined to it)."""
        log = getattr(self, "_log", None)
        return ([] if log is None else [log.orders]) + list(getattr(self, "_pending", []))

    def recent_orders(self, customer_id: str, n: int = 5) -> list[dict[str, Any]]:
        """:meth:`Recommender.recent_orders`, including the orders observed since the refresh."""
        from foodrec.recommenders.reasons import customer_orders

        frames = self._orders_so_far()
        if not frames:
            return []
        mine = [f[f["customer_id"].astype(str) == str(customer_id)] for f in frames]
        return customer_orders(pd.concat(mine, ignore_index=True), customer_id, target_column(self.level), n)

    # -- scoring -------------------------------------------------------------------
    def _global_scores(self) -> np.ndarray:
        counts = self._fitted_counts()
        return ((counts + 1.0) / (counts.sum() + len(counts))).astype(np.float32)

    def _area_block(self, area_rows: np.ndarray) -> np.ndarray:
        area = self.tables["area"]
        totals = area.totals()[area_rows].astype(np.float32)[:, None]
        return (area.dense(area_rows) + self.area_prior * self._global_scores()[None, :]) / (totals + self.area_prior)

    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        check_queries(queries)
        counts = self._fitted_counts()
        n_items = len(counts)
        n = len(queries)
        if self.strategy == "global":
            scores = self._global_scores()
            return rank_contexts(
                np.zeros(n, dtype=np.int64), 1, lambda ctx: np.tile(scores, (len(ctx), 1)), self.items, n_items, k
            )
        areas = as_str_objects(queries["area"]).reset_index(drop=True)
        area_rows = self.tables["area"].codes(areas)
        if self.strategy == "area":
            context, distinct = encode_contexts(area_rows)
            return rank_contexts(
                context, len(distinct), lambda ctx: self._area_block(distinct[ctx, 0]), self.items, n_items, k
            )
        if self.strategy == "area-mealtime":
            cells = self.tables["area_meal"]
            cell_rows = cells.codes(area_meal_key(areas, query_meal_codes(queries, self.timezone)))
            context, distinct = encode_contexts(area_rows, cell_rows)
            block = lambda ctx: self._cell_block(distinct[ctx, 0], distinct[ctx, 1])  # noqa: E731
            return rank_contexts(context, len(distinct), block, self.items, n_items, k)
        history = self.tables["history"]
        customer_rows = history.codes(as_str_objects(queries["customer_id"]).reset_index(drop=True))
        context, distinct = encode_contexts(area_rows, customer_rows)
        return self._rank_own_first(history.matrix[distinct[:, 1]], context, distinct[:, 0], k)

    def _cell_block(self, area_rows: np.ndarray, cell_rows: np.ndarray) -> np.ndarray:
        """Area x meal-time popularity of (area row, cell row) contexts: the cell's counts shrunk towards the area."""
        cells = self.tables["area_meal"]
        totals = cells.totals().astype(np.float32)[cell_rows][:, None]
        prior = self._area_block(area_rows)
        return (cells.dense(cell_rows) + self.meal_prior * prior) / (totals + self.meal_prior)

    def _area_scores_at(self, area_rows: np.ndarray, item_cols: np.ndarray) -> np.ndarray:
        """Area popularity of single (area row, item) pairs, as in :meth:`_area_block` but sparse."""
        area = self.tables["area"]
        counts = np.asarray(area.matrix[area_rows, item_cols]).ravel() if len(area_rows) else np.zeros(0)
        prior = self.area_prior * self._global_scores().astype(np.float64)[item_cols]
        return (counts + prior) / (area.totals()[area_rows] + self.area_prior)

    # -- the service's fast path: parsed ids in, item indices out -----------------------------
    def _own_rows(self, customer_rows: np.ndarray) -> Any:
        """The customers' "own" scores (sparse rows): their recency-weighted history (subclasses spread it)."""
        return self.tables["history"].matrix[customer_rows]

    def _key_rows(self, table: str, keys: Sequence[str | None]) -> np.ndarray:
        """:meth:`SparseCounts.codes` of parsed ids through a dict built once per fit (no pandas per call)."""
        lookup = self._fast.get(("keys", table))
        if lookup is None:
            lookup = self._fast[("keys", table)] = {key: i for i, key in enumerate(self.tables[table].keys)}
        unknown = len(self.tables[table].keys)
        return np.asarray([unknown if key is None else lookup.get(str(key), unknown) for key in keys], np.int64)

    def _area_fill(self, area_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best area-popularity items of each area row (``top_k_rows`` of :meth:`_area_block`, row by
        row as ``top_k_contexts`` does), cached per (area row, k) until the next fit."""
        missing = [int(a) for a in area_rows if ("fill", int(a), k) not in self._fast]
        if missing:
            idx, scores = top_k_contexts(
                len(missing), lambda ctx: self._area_block(np.asarray(missing)[ctx]), len(self.items), k
            )
            for i, a in enumerate(missing):
                self._fast[("fill", a, k)] = (idx[i], scores[i])
        rows = [self._fast[("fill", int(a), k)] for a in area_rows]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def _cell_top(self, areas: Sequence[str | None], at: Sequence[datetime], k: int) -> tuple[np.ndarray, np.ndarray]:
        """``area-mealtime``'s :meth:`recommend` from parsed values: each (area, meal time) context's top ``k`` of
        :meth:`_cell_block` (the same numbers and :func:`top_k_contexts`), cached per context until the next fit."""
        meals = parsed_times(at, self.timezone)[3]
        names = (*MEAL_TIMES, None)
        keys = [None if a is None or m < 0 else f"{a}|{names[m]}" for a, m in zip(areas, meals.tolist(), strict=True)]
        area_rows, cell_rows = self._key_rows("area", areas), self._key_rows("area_meal", keys)
        contexts = {(int(a), int(c)) for a, c in zip(area_rows, cell_rows, strict=True)}
        missing = sorted(ctx for ctx in contexts if ("cell", *ctx, k) not in self._fast)
        if missing:
            todo = np.asarray(missing, np.int64)
            idx, scores = top_k_contexts(
                len(todo), lambda ctx: self._cell_block(todo[ctx, 0], todo[ctx, 1]), len(self.items), k
            )
            for i, (a, c) in enumerate(missing):
                self._fast[("cell", a, c, k)] = (idx[i], scores[i])
        rows = [self._fast[("cell", int(a), int(c), k)] for a, c in zip(area_rows, cell_rows, strict=True)]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def top_indices(
        self,
        customer_ids: Sequence[str | None],
        areas: Sequence[str | None],
        k: int,
        at: Sequence[datetime] | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`recommend` for parsed queries (the service's batches): ``(indices into self.items, -1 padded;
        scores, -inf padded)``, the same numbers from the same arrays and :func:`rank_own_first` (``area-mealtime``:
        the same context blocks, given the query times ``at``), with the fill lists cached until the next fit and
        no pandas. None for the other strategies, and for ``area-mealtime`` without ``at`` (the caller uses
        :meth:`recommend`).

        >>> rec = CustomerHistory().fit(OrderLog(pd.DataFrame({"order_id": ["o1", "o2"],
        ...     "customer_id": ["c1", "c2"], "ordered_at": pd.to_datetime(["2026-01-01 12:00"] * 2, utc=True),
        ...     "area": ["a", "a"], "restaurant_id": ["r1", "r2"]})))
        >>> idx, _ = rec.top_indices(["c2", None], ["a", None], 2)
        >>> rec.items[idx].tolist()
        [['r2', 'r1'], ['r1', 'r2']]
        """
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        if self.strategy == "area-mealtime" and at is not None:
            self._fitted_counts()
            if len(areas) == 0:
                return np.full((0, k), -1, dtype=np.int64), np.full((0, k), -np.inf)
            return self._cell_top(areas, at, k)
        if self.strategy != "customer-history":
            return None
        self._fitted_counts()
        area_rows = self._key_rows("area", areas)
        customer_rows = self._key_rows("history", customer_ids)
        if len(area_rows) == 0:
            return np.full((0, k), -1, dtype=np.int64), np.full((0, k), -np.inf)
        totals = self._fast.get("area_totals")
        if totals is None:
            totals = self._fast["area_totals"] = self.tables["area"].totals()
        glob = self._fast.get("global")
        if glob is None:
            glob = self._fast["global"] = self._global_scores().astype(np.float64)
        dense = self._fast.get("area_dense")
        if dense is None:  # areas x items counts: a point lookup in a sparse row scans the row (the catalogue)
            matrix = self.tables["area"].matrix
            small = matrix.shape[0] * matrix.shape[1] <= DENSE_AREA_CELLS
            dense = self._fast["area_dense"] = matrix.toarray() if small else matrix

        def bonus(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:  # _area_scores_at, with cached tables
            a = area_rows[rows]
            counts = np.asarray(dense[a, cols]).ravel() if len(a) else np.zeros(0)
            return (counts + self.area_prior * glob[cols]) / (totals[a] + self.area_prior)

        distinct, fill_row = np.unique(area_rows, return_inverse=True)
        fill = self._area_fill(distinct, 2 * k)
        own = self._own_rows(customer_rows)
        return rank_own_first(own.tocsr(), bonus, fill, fill_row.reshape(-1), self.items, k)

    def _rank_own_first(self, own: Any, context: np.ndarray, area_of_ctx: np.ndarray, k: int) -> Ranking:
        """The customer's own items first (see :func:`rank_own_first`), then area popularity."""
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        n_items = len(self._fitted_counts())
        areas, area_pos = np.unique(area_of_ctx, return_inverse=True)
        fill = top_k_contexts(len(areas), lambda ctx: self._area_block(areas[ctx]), n_items, 2 * k)
        idx, scores = rank_own_first(
            own.tocsr(),
            lambda rows, cols: self._area_scores_at(area_of_ctx[rows], cols),
            fill,
            area_pos.reshape(-1),
            self.items,
            k,
        )
        return ranking_of(idx, scores, context, self.items)

    # -- reasons ---------------------------------------------------------------------
    def explain(self, queries: pd.DataFrame, items: Sequence[Sequence[str]]) -> list[list[str]]:
        """The strategy's reason: the customer's own orders (``customer-history``: items they ordered, with how
        often), else popularity in the query's area (at its meal time for ``area-mealtime``) or overall."""
        check_queries(queries)
        self._fitted_counts()
        areas = as_str_objects(queries["area"]).reset_index(drop=True)
        if self.strategy == "global":
            known = np.zeros(len(queries), dtype=bool)
        else:
            known = self.tables["area"].codes(areas) < len(self.tables["area"].keys)
        meals: list[str | None] = [None] * len(queries)
        if self.strategy == "area-mealtime":
            names = np.asarray((*MEAL_TIMES, None), dtype=object)
            codes = query_meal_codes(queries, self.timezone)
            meals = names[np.where(codes < 0, len(MEAL_TIMES), codes)].tolist()
        log = getattr(self, "_log", None)
        out = []
        for i, (customer, row) in enumerate(zip(queries["customer_id"].tolist(), items, strict=True)):
            popular = popular_in(areas[i] if known[i] else None, meals[i])
            own: dict[str, int | None] = {}
            if self.strategy == "customer-history":
                if log is not None:  # the orders observed since the refresh too (order ids are not counted twice)
                    for frame in self._orders_so_far():
                        for item, n in order_counts(frame, str(customer), target_column(self.level)).items():
                            own[item] = (own.get(item) or 0) + n
                else:  # loaded without its log: the history table says whether, not how often
                    history = self.tables["history"]
                    weights = history.dense(history.codes([str(customer)]))[0]
                    own = {str(self.items[j]): None for j in np.flatnonzero(weights > 0)}
            out.append([ordered_before(own[item]) if item in own else popular for item in map(str, row)])
        return out

    def _fitted_counts(self) -> np.ndarray:
        if self.items is None or self.item_counts is None:
            raise InputError(f"recommender {self.name!r} is not fitted yet: call fit(log) first")
        return self.item_counts

    # -- persistence ---------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "strategy": self.strategy,
            "area_prior": self.area_prior,
            "meal_prior": self.meal_prior,
            "half_life_days": self.half_life_days,
            "timezone": self.timezone,
            "trained_until": self.trained_until,
        }

    def save_state(self, directory: Path) -> None:
        counts = self._fitted_counts()
        pd.DataFrame({"item_id": self.items, "orders": counts}).to_parquet(directory / "items.parquet", index=False)
        for name, table in self.tables.items():
            table.to_frame(self.items).to_parquet(directory / _TABLES[name], index=False)

    @classmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> PopularityBaseline:
        config = dict(manifest.get("config", {}))
        try:
            rec = cls(
                level=config.get("level"),
                strategy=config.get("strategy"),
                area_prior=config.get("area_prior", 10.0),
                meal_prior=config.get("meal_prior", 10.0),
                half_life_days=config.get("half_life_days", 14.0),
            )
            rec.timezone = config.get("timezone", "UTC")
            rec.trained_until = config.get("trained_until")
            items = pd.read_parquet(directory / "items.parquet")
            rec.items = items["item_id"].astype(str).to_numpy(dtype=object)
            rec.item_counts = items["orders"].to_numpy(np.float64)
            for name in rec._needed_tables():
                rec.tables[name] = SparseCounts.from_saved(pd.read_parquet(directory / _TABLES[name]), rec.items)
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as err:
            raise InputError(f"{directory}: cannot load {cls.name!r} ({err})") from err
        return rec


class GlobalPopularity(PopularityBaseline):
    """The most ordered items overall: the floor every recommender must clear."""

    name = "global-popularity"
    default_strategy = "global"


class AreaPopularity(PopularityBaseline):
    """The most ordered in the neighbourhood (the query's area), backed by global popularity."""

    name = "area-popularity"
    default_strategy = "area"


class AreaMealtimePopularity(PopularityBaseline):
    """The most ordered in the area at this meal time, backed by the area, then global popularity."""

    name = "area-mealtime-popularity"
    default_strategy = "area-mealtime"


class CustomerHistory(PopularityBaseline):
    """The customer's own past items (frequency and recency), then area popularity."""

    name = "customer-history"
    default_strategy = "customer-history"
