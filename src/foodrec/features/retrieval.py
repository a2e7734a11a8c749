"""Candidate retrieval: the cheap first stage that hands the ranker a few hundred items instead of the catalogue.

For each query: the customer's recent items, the most ordered dishes of their recent restaurants, then the items
most popular in the area at that meal time (all from the feature view, point in time), first ``n`` distinct.

>>> import numpy as np
>>> first_unique(np.array([[3, 3, 0, 5, 1, 5]]), 3).tolist()
[[3, 5, 1]]
"""

from __future__ import annotations

import numpy as np

from foodrec.features.popularity import Popularity

RECENT_RESTAURANTS = 10  # how many of the customer's recent restaurants lend their top dishes


def retrieve(
    popularity: Popularity,
    hist_items: np.ndarray,
    snap: np.ndarray,
    area: np.ndarray,
    meal: np.ndarray,
    n: int,
) -> np.ndarray:
    """``(B, n)`` candidate item indices (0 = padding) for queries with these histories and contexts."""
    b = len(hist_items)
    recent_rests = first_unique(popularity.item_restaurant.take(hist_items), RECENT_RESTAURANTS)
    top = popularity.rest_top  # (snapshots, restaurants, dishes): each recent restaurant's dishes, by flat position
    rows = np.asarray(snap, np.intp)[:, None] * top.shape[1] + recent_rests
    rest_dishes = top.reshape(-1, top.shape[2]).take(rows, axis=0).reshape(b, -1)
    pool = [hist_items, rest_dishes, popularity.top_items(snap, area, meal, n)]
    return first_unique(np.concatenate(pool, axis=1), n)


def first_unique(pool: np.ndarray, n: int) -> np.ndarray:
    """Per row, the first ``n`` distinct non-zero values in order; padded with 0.

    Each value's first flat position comes from a ``(rows, max value + 1)`` table (``np.minimum.at``), no sort;
    the firsts are then placed by their rank in the row, all rows at once (a serving batch, 16 x 410: 60 us, the
    per-row cumulative sum it replaces 90 us, two row sorts 400 us). Batches whose table would be large (a big
    catalogue, many rows) use the sorts: the same result.
    """
    b, p = pool.shape
    width = int(pool.max()) + 1 if pool.size else 1
    if b * width > TABLE_LIMIT or b * p >= 1 << 31:
        return _first_unique_sorted(pool, n)
    out = np.zeros((b, n), np.int32)
    if pool.size == 0 or n == 0:
        return out
    cell = (pool + (np.arange(b, dtype=np.intp) * width)[:, None]).ravel()
    pos = np.arange(b * p, dtype=np.int32)
    first_pos = np.full(b * width, b * p, np.int32)
    np.minimum.at(first_pos, cell, pos)  # flat positions: the smallest of a row's cell is the row's first
    first_pos[::width] = -1  # value 0 is padding, never kept
    sel = np.flatnonzero(first_pos[cell] == pos)  # positions of first occurrences, row by row, in order
    row = sel // p
    rank = np.arange(len(sel)) - np.searchsorted(sel, np.arange(b) * p)[row]
    keep = rank < n
    out.ravel()[row[keep] * n + rank[keep]] = pool.ravel()[sel[keep]]
    return out


TABLE_LIMIT = 1 << 22  # entries of first_unique's table (16 MiB)


def _first_unique_sorted(pool: np.ndarray, n: int) -> np.ndarray:
    """:func:`first_unique` by sorting each row (memory proportional to the pool only)."""
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
