"""How well a fitted recommender ranks the orders of one window: NDCG@k, hit rate, and its scores.

One query per order (who, where, when); the order's items (or restaurant) are the targets. NDCG@k
(normalised discounted cumulative gain) gives a hit at rank r the credit 1/log2(r+1), divided by the
best credit possible for that order, so 1.0 means every ordered item sat at the top.

>>> import numpy as np
>>> items = np.array([["a", "b", "c"], ["x", "y", None]], dtype=object)
>>> ndcg_at_k(items, [{"a"}, {"y"}], k=3).round(3).tolist()
[1.0, 0.631]
>>> hits_at_k(items, [{"c"}, {"z"}], k=3).tolist()
[1.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.recommenders.base import Recommender, make_queries


def _relevance(items: np.ndarray, targets: list[set[str]], k: int) -> np.ndarray:
    top = items[:, :k]
    rel = np.zeros(top.shape, dtype=float)
    for i, wanted in enumerate(targets):
        if wanted:
            rel[i] = [item is not None and item in wanted for item in top[i]]
    return rel


def ndcg_at_k(items: np.ndarray, targets: list[set[str]], k: int = 10) -> np.ndarray:
    """Per-query NDCG@k with binary relevance (an ordered item is relevant)."""
    rel = _relevance(items, targets, k)
    discounts = 1.0 / np.log2(np.arange(2, rel.shape[1] + 2))
    dcg = rel @ discounts
    n_rel = np.minimum([len(t) for t in targets], rel.shape[1]).astype(int)
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[n_rel]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def hits_at_k(items: np.ndarray, targets: list[set[str]], k: int = 10) -> np.ndarray:
    """Per-query hit rate: 1.0 when at least one ordered item is in the top k."""
    return (_relevance(items, targets, k).sum(axis=1) > 0).astype(float)


def window_cases(window: OrderLog, level: str) -> tuple[pd.DataFrame, list[set[str]], np.ndarray]:
    """Queries (one per order, at its time), the set of target ids of each order, and the order ids."""
    col = target_column(level)
    lines = window.orders[window.orders[col].notna()] if col in window.orders.columns else window.orders.iloc[:0]
    if lines.empty:
        return make_queries([], [], []), [], np.array([], dtype=object)
    grouped = lines.groupby("order_id", sort=False)
    first = grouped.first()
    first = first.sort_values("ordered_at", kind="stable")
    targets_by_order = grouped[col].agg(lambda s: set(s.astype(str)))
    queries = make_queries(first["customer_id"].to_numpy(), first["area"].to_numpy(), first["ordered_at"].to_numpy())
    return queries, [targets_by_order[o] for o in first.index], first.index.to_numpy(dtype=object)


@dataclass
class WindowQuality:
    """Ranking quality of one window; per-query values kept for confidence intervals."""

    ndcg: np.ndarray
    hits: np.ndarray
    top_scores: np.ndarray  # the model's best score per query (its score distribution)
    k: int = 10
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.ndcg.size)

    @property
    def mean_ndcg(self) -> float:
        return float(self.ndcg.mean()) if self.n else float("nan")

    @property
    def stderr_ndcg(self) -> float:
        return float(self.ndcg.std(ddof=1) / np.sqrt(self.n)) if self.n > 1 else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            f"ndcg@{self.k}": self.mean_ndcg,
            f"hr@{self.k}": float(self.hits.mean()) if self.n else float("nan"),
            "stderr": self.stderr_ndcg,
            "n_queries": self.n,
        }


def measure_window(rec: Recommender, window: OrderLog, level: str, k: int = 10, batch: int = 4096) -> WindowQuality:
    """Ask ``rec`` for the top ``k`` of every order in ``window`` and score its answers."""
    queries, targets, order_ids = window_cases(window, level)
    if not targets:
        empty = np.array([], dtype=float)
        return WindowQuality(empty, empty, empty, k)
    items, scores = [], []
    for lo in range(0, len(queries), batch):
        ranking = rec.recommend(queries.iloc[lo : lo + batch].reset_index(drop=True), k=k)
        items.append(np.asarray(ranking.items, dtype=object))
        scores.append(np.asarray(ranking.scores, dtype=float))
    all_items = np.concatenate(items)
    all_scores = np.concatenate(scores)
    top = all_scores[:, 0] if all_scores.shape[1] else np.full(len(all_items), np.nan)
    return WindowQuality(
        ndcg_at_k(all_items, targets, k), hits_at_k(all_items, targets, k), top, k, {"order_ids": order_ids}
    )
