"""TIFU-KNN (Hu, Zhang, Wang, Yu, Liu: "Modeling Personalized Item Frequency Information for Next-basket
Recommendation", SIGIR 2020) behind foodrec's Recommender interface: the strong repeat-aware baseline of the
next-basket literature ("A Next Basket Recommendation Reality Check", 2023).

Following the paper's equations: a customer's orders (baskets, oldest first) are cut into groups of ``m``
consecutive baskets, the oldest group holding the remainder. Inside a group, basket ``i`` of ``m`` weighs
``r_b ** (m - i)`` (the group's newest basket weighs 1) and the group vector is their sum over ``m``; the customer's
vector is ``(1 / k) * sum_j r_g ** (k - j) * group_j`` over their ``k`` groups (the newest group weighs 1): a
time-decayed personal item frequency. Neighbours: the ``n_neighbours`` nearest other customers by Euclidean
distance between these vectors (as the authors' code, scikit-learn's brute-force ``NearestNeighbors``). The score
is ``alpha * own vector + (1 - alpha) * mean of the neighbours' vectors``.

Two choices the paper leaves open, made as foodrec's other baselines make them: customers without orders in the
training period, and items a customer's score leaves at zero, are ranked by popularity in the query's area (a
``1e-6``-scaled tie-break below any personal score). The hyper-parameters ``(m, r_b, r_g, n_neighbours, alpha)``
are tuned on validation only: the last 15% of the training period's days (the Keras model's own validation
slice), by NDCG@10 over the grid :data:`GRID`; then the model is refitted on the whole training period.

>>> from foodrec.recommenders.keras.toydata import toy_log
>>> log = toy_log(n_customers=30, n_restaurants=6, days=20, seed=1)
>>> rec = TifuKNN(level="restaurant", tune=False).fit(log)
>>> rec.recommend(log.orders[["customer_id", "area"]].assign(at=log.orders["ordered_at"]).head(2), k=3).items.shape
(2, 3)
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from unsaved import UnsavedRecommender

from foodrec.data.orderlog import OrderLog
from foodrec.recommenders.base import Ranking
from foodrec.recommenders.baselines.common import training_pairs

GRID = {
    "group_size": (3, 7),
    "r_b": (0.9, 1.0),
    "r_g": (0.6, 0.9),
    "n_neighbours": (50, 300),
    "alpha": (0.7, 0.9),
}
DEFAULTS = {"group_size": 7, "r_b": 0.9, "r_g": 0.7, "n_neighbours": 300, "alpha": 0.9}


class TifuKNN(UnsavedRecommender):
    """TIFU-KNN; ``tune=True`` picks the hyper-parameters on the training period's last 15% of days."""

    name: ClassVar[str] = "tifu-knn"

    def __init__(self, level: str | None = None, tune: bool = True, validation_fraction: float = 0.15, **params: Any):
        super().__init__(level)
        self.tune, self.validation_fraction = tune, validation_fraction
        self.params = {**DEFAULTS, **params}
        self.tuning: list[dict] = []

    # -- fitting ---------------------------------------------------------------------------------------------------
    def fit(self, log: OrderLog) -> TifuKNN:
        self.level = log.resolve_level(self.level)
        pairs = training_pairs(log, self.level)
        if self.tune:
            self.params = self._tune(pairs)
        self._fit_pairs(pairs, self.params)
        return self

    def _fit_pairs(self, pairs: pd.DataFrame, params: dict) -> None:
        self.items = pd.Index(sorted(pairs["item"].unique()))
        self.customers, vectors = customer_vectors(pairs, self.items, params)
        self.scores = blend_neighbours(vectors, int(params["n_neighbours"]), float(params["alpha"]))
        item = self.items.get_indexer(pairs["item"])
        total = np.bincount(item, minlength=len(self.items)).astype(np.float64)
        self.global_pop = total / max(total.max(), 1.0)
        area_pop = {}
        for area, grp in pairs.dropna(subset=["area"]).groupby("area"):
            counts = np.bincount(self.items.get_indexer(grp["item"]), minlength=len(self.items)).astype(np.float64)
            area_pop[area] = counts / max(counts.max(), 1.0)
        self.area_pop = area_pop

    def _tune(self, pairs: pd.DataFrame) -> dict:
        days = pairs["at"].dt.floor("D")
        first, last = days.min(), days.max()
        cut = last - pd.Timedelta(days=max(1, round((last - first).days * self.validation_fraction)) - 1)
        early, late = pairs[pairs["at"] < cut], pairs[pairs["at"] >= cut]
        if early.empty or late.empty:
            return dict(self.params)
        head = late.groupby("order_id", sort=False).agg(
            customer_id=("customer_id", "first"), area=("area", "first"), at=("at", "min")
        )
        targets = late.groupby("order_id", sort=False)["item"].agg(set).reindex(head.index).tolist()
        queries = head.reset_index(drop=True)
        best, best_score = dict(self.params), -1.0
        keys = list(GRID)
        for values in itertools.product(*(GRID[k] for k in keys)):
            params = dict(zip(keys, values, strict=True))
            self._fit_pairs(early, params)
            items = self.recommend(queries, k=10).items
            score = float(np.mean([_ndcg(row, t) for row, t in zip(items, targets, strict=True)]))
            self.tuning.append({**params, "val_ndcg10": score})
            if score > best_score:
                best, best_score = params, score
        return best

    # -- ranking -------------------------------------------------------------------------------------------------
    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        n = len(queries)
        rows = self.customers.get_indexer(queries["customer_id"].astype(object).where(queries["customer_id"].notna()))
        k_eff = min(k, len(self.items))
        items = np.full((n, k), None, dtype=object)
        out = np.full((n, k), -np.inf)
        areas = queries["area"].tolist()
        ids = np.asarray(self.items, dtype=object)
        for lo in range(0, n, 1024):
            sl = slice(lo, min(lo + 1024, n))
            pop = np.stack([self.area_pop.get(a, self.global_pop) for a in areas[sl]])
            personal = np.where(rows[sl, None] >= 0, self.scores[np.maximum(rows[sl], 0)], 0.0)
            score = personal + 1e-6 * pop
            top = np.argsort(-score, axis=1, kind="stable")[:, :k_eff]
            items[sl, :k_eff] = ids[top]
            out[sl, :k_eff] = np.take_along_axis(score, top, 1)
        return Ranking(items, out)


def customer_vectors(pairs: pd.DataFrame, items: pd.Index, params: dict) -> tuple[pd.Index, np.ndarray]:
    """The paper's personal item-frequency vectors, one row per customer (dense, ``float32``).

    >>> pairs = pd.DataFrame({"customer_id": ["a"] * 3, "order_id": ["o1", "o2", "o3"], "item": ["x", "y", "x"],
    ...     "at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"], utc=True)})
    >>> _, v = customer_vectors(pairs, pd.Index(["x", "y"]), {"group_size": 2, "r_b": 0.5, "r_g": 0.5})
    >>> v.round(4).tolist()        # groups [o1] and [o2, o3]: x = (0.5 * 1/2 + 1/2) / 2, y = (0.5 / 2) / 2
    [[0.375, 0.125]]
    """
    m, r_b, r_g = int(params["group_size"]), float(params["r_b"]), float(params["r_g"])
    frame = pairs.dropna(subset=["customer_id"])
    orders = frame.groupby("order_id", sort=False).agg(customer_id=("customer_id", "first"), at=("at", "min"))
    orders = orders.reset_index().sort_values(["customer_id", "at", "order_id"], kind="stable")
    n = orders.groupby("customer_id", sort=False)["order_id"].transform("size").to_numpy()
    pos_from_end = n - 1 - orders.groupby("customer_id", sort=False).cumcount().to_numpy()  # 0: the newest basket
    group_from_end = pos_from_end // m
    in_group_from_end = pos_from_end % m
    k = (n + m - 1) // m
    weight = (r_g**group_from_end) * (r_b**in_group_from_end) / (m * k)
    customers = pd.Index(orders["customer_id"].unique())
    w = pd.Series(weight, index=orders["order_id"].to_numpy())
    lines = frame[["customer_id", "order_id", "item"]]
    rows = customers.get_indexer(lines["customer_id"])
    cols = items.get_indexer(lines["item"])
    vectors = np.zeros((len(customers), len(items)), np.float32)
    np.add.at(vectors, (rows, cols), w.reindex(lines["order_id"]).to_numpy(np.float32))
    return customers, vectors


def blend_neighbours(vectors: np.ndarray, n_neighbours: int, alpha: float, chunk: int = 1024) -> np.ndarray:
    """``alpha * own + (1 - alpha) * mean of the n nearest other customers' vectors`` (Euclidean distance)."""
    n = len(vectors)
    out = alpha * vectors.astype(np.float32)
    kk = min(n_neighbours, n - 1)
    if kk <= 0 or alpha >= 1.0:
        return out
    sq = (vectors.astype(np.float64) ** 2).sum(1)
    for lo in range(0, n, chunk):
        sl = slice(lo, min(lo + chunk, n))
        d = sq[sl, None] + sq[None, :] - 2.0 * (vectors[sl].astype(np.float64) @ vectors.T.astype(np.float64))
        d[np.arange(d.shape[0]), np.arange(lo, sl.stop)] = np.inf  # not one's own neighbour
        nn = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        out[sl] += (1.0 - alpha) * vectors[nn].mean(axis=1)
    return out


def _ndcg(ranked: np.ndarray, targets: set) -> float:
    gains = [1.0 / np.log2(i + 2) for i, item in enumerate(ranked) if item is not None and item in targets]
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(targets), len(ranked))))
    return float(sum(gains) / ideal) if ideal else 0.0
