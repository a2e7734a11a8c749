"""Shared machinery of the count-based baselines: encoding the training log, sparse counts, vectorised top-k.

Every baseline scores a dense block ``(contexts, items)`` for a chunk of distinct query contexts (an area,
an area and meal time, a customer and area...) and keeps the top k of each row, so 100k queries over a
10k-item catalogue never build more than a few megabytes at once.

>>> import numpy as np
>>> items, scores = top_k_rows(np.array([[0.1, 0.5, 0.3], [0.9, 0.0, 0.2]], dtype=np.float32), 2)
>>> items.tolist(), scores.round(2).tolist()
([[1, 2], [0, 2]], [[0.5, 0.3], [0.9, 0.2]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.data.time_features import MEAL_TIMES, check_timezone, meal_time_codes
from foodrec.errors import InputError
from foodrec.recommenders.base import Ranking

# Cells of a dense score block per chunk (float32): 4M cells = 16 MB.
BLOCK_CELLS = 4_000_000


def training_pairs(log: OrderLog, level: str) -> pd.DataFrame:
    """One row per (order, target item) of the training log, with the order's context.

    Columns: ``order_id, customer_id, area, at, meal, item`` (``meal`` is an index into ``MEAL_TIMES``;
    ``area``/``customer_id`` may be missing). Lines without a target id are dropped; an item ordered twice in
    one order counts once.
    """
    column = target_column(level)
    orders = log.orders
    if column not in orders.columns:
        raise InputError(f"the log has no {column} column, so it cannot be ranked at level {level!r}")
    frame = orders[["order_id", "customer_id", "area", "ordered_at", column]].rename(
        columns={"ordered_at": "at", column: "item"}
    )
    frame = frame[frame["item"].notna() & frame["at"].notna()]
    frame = frame.drop_duplicates(["order_id", "item"]).reset_index(drop=True)
    for col in ("order_id", "customer_id", "area", "item"):
        frame[col] = as_str_objects(frame[col])
    frame["meal"] = meal_time_codes(frame["at"], log.timezone)
    if frame.empty:
        raise InputError("the training log has no orders with a target id: nothing to learn from")
    return frame


def as_str_objects(values: object) -> pd.Series:
    """Ids as an object Series of ``str`` with ``None`` for missing values (vectorised).

    >>> as_str_objects(pd.Series([1, None, "a"])).tolist()
    ['1', None, 'a']
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    missing = series.isna().to_numpy()
    out = np.empty(len(series), dtype=object)
    out[~missing] = series[~missing].astype(str).to_numpy(dtype=object)
    out[missing] = None
    return pd.Series(out, index=series.index, dtype=object)


def item_vocabulary(pairs: pd.DataFrame) -> np.ndarray:
    """Sorted distinct item ids (object array of str): the catalogue a baseline can recommend."""
    return np.asarray(sorted(pairs["item"].unique()), dtype=object)


@dataclass
class SparseCounts:
    """A (keys x items) sparse weight matrix with a key vocabulary; unknown keys map to an extra empty row.

    >>> frame = pd.DataFrame({"key": ["a", "a", "b"], "item": [0, 1, 1], "weight": [2.0, 1.0, 5.0]})
    >>> counts = SparseCounts.from_frame(frame, n_items=3)
    >>> counts.codes(["b", "zzz"]).tolist(), counts.dense(counts.codes(["a"])).tolist()
    ([1, 2], [[2.0, 1.0, 0.0]])
    """

    keys: pd.Index
    matrix: sparse.csr_matrix  # shape (len(keys) + 1, n_items); the last row is the empty "unknown" row

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, n_items: int) -> SparseCounts:
        """``frame`` has columns ``key`` (str), ``item`` (int code) and ``weight`` (summed over duplicates)."""
        keys = pd.Index(sorted(frame["key"].dropna().unique()), dtype=object)
        frame = frame[frame["key"].notna()]
        rows = keys.get_indexer(frame["key"])
        matrix = sparse.csr_matrix(
            (frame["weight"].to_numpy(np.float64), (rows, frame["item"].to_numpy(np.int64))),
            shape=(len(keys) + 1, n_items),
        )
        matrix.sum_duplicates()
        return cls(keys, matrix)

    def codes(self, keys: object) -> np.ndarray:
        """Row numbers of ``keys``; unknown or missing keys get the empty last row."""
        codes = self.keys.get_indexer(pd.Index(pd.Series(keys, dtype=object)))
        codes[codes < 0] = len(self.keys)
        return codes

    def dense(self, rows: np.ndarray) -> np.ndarray:
        return self.matrix[rows].toarray().astype(np.float32)

    def totals(self) -> np.ndarray:
        return np.asarray(self.matrix.sum(axis=1)).ravel()

    def to_frame(self, items: np.ndarray) -> pd.DataFrame:
        """Long form ``key, item_id, weight`` for saving (Parquet)."""
        coo = self.matrix.tocoo()
        keep = coo.row < len(self.keys)
        return pd.DataFrame(
            {
                "key": np.asarray(self.keys, dtype=object)[coo.row[keep]],
                "item_id": items[coo.col[keep]],
                "weight": coo.data[keep],
            }
        )

    @classmethod
    def from_saved(cls, frame: pd.DataFrame, items: np.ndarray) -> SparseCounts:
        lookup = pd.Index(items)
        codes = lookup.get_indexer(frame["item_id"].astype(object))
        if (codes < 0).any():
            raise InputError("saved recommender is inconsistent: counts name items outside its catalogue")
        return cls.from_frame(
            pd.DataFrame({"key": frame["key"].astype(object), "item": codes, "weight": frame["weight"]}), len(items)
        )


def area_meal_key(area: pd.Series, meal: np.ndarray) -> pd.Series:
    """Key of an (area, meal time) cell, e.g. ``"9q8yy|lunch"``; missing area or meal time gives None."""
    meal_names = np.asarray(MEAL_TIMES + (None,), dtype=object)[np.where(meal < 0, len(MEAL_TIMES), meal)]
    area_obj = area.astype(object).to_numpy()
    keys = [None if a is None or m is None else f"{a}|{m}" for a, m in zip(area_obj, meal_names, strict=True)]
    return pd.Series(keys, index=area.index, dtype=object)


def top_k_rows(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of the k largest entries of each row, best first (ties: deterministic).

    When the block has fewer than k columns, rows are padded with index -1 and score -inf.
    """
    n, m = block.shape
    if np.isnan(block).any():
        block = np.where(np.isnan(block), -np.inf, block)
    kk = min(k, m)
    if kk == 0:
        return np.full((n, k), -1, dtype=np.int64), np.full((n, k), -np.inf)
    if kk < m:
        # Exactly the kk best per row, ties at the boundary broken by the lower item index (argpartition alone
        # would pick among tied items arbitrarily).
        threshold = -np.partition(-block, kk - 1, axis=1)[:, kk - 1 : kk]
        above = block > threshold
        need = kk - above.sum(axis=1, keepdims=True)
        tied = block == threshold
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
        part = np.nonzero(chosen)[1].reshape(n, kk)
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    part_scores = np.take_along_axis(block, part, axis=1)
    # Sort by score descending, then by item index, so equal scores always come out the same way.
    order = np.lexsort((part, -part_scores), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    scores = np.take_along_axis(part_scores, order, axis=1).astype(np.float64)
    if kk < k:
        idx = np.hstack([idx, np.full((n, k - kk), -1, dtype=np.int64)])
        scores = np.hstack([scores, np.full((n, k - kk), -np.inf)])
    return idx, scores


def top_k_contexts(
    n_contexts: int, score_block: Callable[[np.ndarray], np.ndarray], n_items: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top k (indices, scores) of every context, scoring ``BLOCK_CELLS``-sized dense chunks of contexts."""
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    chunk = max(1, BLOCK_CELLS // max(n_items, 1))
    top_idx = np.empty((n_contexts, k), dtype=np.int64)
    top_scores = np.empty((n_contexts, k), dtype=np.float64)
    for start in range(0, n_contexts, chunk):
        ctx = np.arange(start, min(start + chunk, n_contexts))
        top_idx[ctx], top_scores[ctx] = top_k_rows(score_block(ctx), k)
    return top_idx, top_scores


def ranking_of(top_idx: np.ndarray, top_scores: np.ndarray, context_of_query: np.ndarray, items: np.ndarray) -> Ranking:
    """Hand every query its context's top-k list (index -1 becomes the ``None`` padding)."""
    labels = np.append(items, None).astype(object)
    return Ranking(items=labels[top_idx[context_of_query]], scores=top_scores[context_of_query])


def rank_contexts(
    context_of_query: np.ndarray,
    n_contexts: int,
    score_block: Callable[[np.ndarray], np.ndarray],
    items: np.ndarray,
    n_items: int,
    k: int,
) -> Ranking:
    """Score each distinct context once (in chunks), keep its top k, and hand every query its context's list.

    ``context_of_query[i]`` is the context number (0..n_contexts-1) of query i; ``score_block(ctx)`` returns a
    float32 array ``(len(ctx), n_items)`` of scores for those contexts.
    """
    top_idx, top_scores = top_k_contexts(n_contexts, score_block, n_items, k)
    return ranking_of(top_idx, top_scores, context_of_query, items)


def encode_contexts(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct combinations of per-query integer codes: ``(context_of_query, distinct_codes (n_ctx, n_codes))``."""
    stacked = np.stack([np.asarray(c, dtype=np.int64) for c in codes], axis=1)
    distinct, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return inverse.reshape(-1), distinct


def query_meal_codes(queries: pd.DataFrame, timezone: str) -> np.ndarray:
    return meal_time_codes(pd.to_datetime(queries["at"], utc=True), check_timezone(timezone))


def check_queries(queries: pd.DataFrame) -> None:
    missing = [c for c in ("customer_id", "area", "at") if c not in queries.columns]
    if missing:
        raise InputError(f"queries lack column(s) {', '.join(missing)} (need customer_id, area, at)")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


def rank_own_first(
    own: sparse.csr_matrix,
    own_bonus: Callable[[np.ndarray, np.ndarray], np.ndarray],
    fill_top: tuple[np.ndarray, np.ndarray],
    fill_row: np.ndarray,
    items: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Top k per context when "own" items (score >= 1) always outrank the fill (area popularity, score < 1).

    Sparse and exact, so it never builds a contexts x catalogue block: the candidates of context c are its own
    items (row c of ``own``, scored ``1 + own/max(own) + own_bonus(c, item)``) and the ``2k`` best fill items of
    its fill row (``fill_top = (indices, scores)`` of shape ``(n_fill_rows, 2k)``; ``fill_row[c]`` picks one). With
    h < k own items, the 2k fill items hold at least k - h new ones, so nothing outside the candidates can make
    the top k. Returns ``(indices (n_ctx, k) with -1 padding, scores with -inf padding)``.
    """
    n_ctx = own.shape[0]
    if n_ctx == 0:  # no queries (scipy's fancy indexing of zero entries below would give a matrix, not an array)
        return np.full((0, k), -1, dtype=np.int64), np.full((0, k), -np.inf)
    own = own.tocsr()
    own.sum_duplicates()  # also sorts the indices, so entries below come ordered by (context, item)
    coo = own.tocoo()
    peak = np.zeros(n_ctx)
    np.maximum.at(peak, coo.row, coo.data)
    own_scores = 1.0 + coo.data / np.where(peak[coo.row] > 0, peak[coo.row], 1.0)
    own_scores = own_scores + own_bonus(coo.row, coo.col)
    fill_idx, fill_scores = fill_top
    width = fill_idx.shape[1]
    fill_ctx = np.repeat(np.arange(n_ctx), width)
    fill_items = fill_idx[fill_row].reshape(-1)
    fill_vals = fill_scores[fill_row].reshape(-1)
    keep = fill_items >= 0
    # A fill item the context already owns keeps its (higher) own score: drop its fill copy.
    keep[keep] = np.asarray(own[fill_ctx[keep], fill_items[keep]]).ravel() == 0
    ctx = np.concatenate([coo.row.astype(np.int64), fill_ctx[keep]])
    cand = np.concatenate([coo.col.astype(np.int64), fill_items[keep]])
    score = np.concatenate([own_scores, fill_vals[keep]])
    # Best first within each context; own scores lie in [1, 3), fill scores in [0, 1), so ctx * 8 - score sorts
    # by context, then score descending. The stable sort keeps equal scores in item order (own entries come
    # sorted by item, the fill lists are already sorted by score then item).
    order = np.argsort(ctx * 8.0 - score, kind="stable")
    ctx, cand, score = ctx[order], cand[order], score[order]
    starts = np.searchsorted(ctx, np.arange(n_ctx))
    rank = np.arange(len(ctx)) - starts[ctx]
    top = rank < k
    out_idx = np.full((n_ctx, k), -1, dtype=np.int64)
    out_scores = np.full((n_ctx, k), -np.inf)
    out_idx[ctx[top], rank[top]] = cand[top]
    out_scores[ctx[top], rank[top]] = score[top]
    return out_idx, out_scores
