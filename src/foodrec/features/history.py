"""Every customer's past order lines, so that a query at time ``t`` gathers the last ``H`` lines strictly before
``t`` in one vectorised step, plus a live tail of lines folded in one by one (orders the service saw).

Customers are indices of the feature view's own vocabulary (everyone in the data, not only the customers a model
was trained on); index 0 is unknown.

>>> import numpy as np, pandas as pd
>>> lines = pd.DataFrame({"cust": [1, 1, 2], "t": [1.0, 2.0, 1.5], "item": [7, 8, 7], "rest": [1, 2, 1]})
>>> history = History.build(3, lines)
>>> items, rests, ages = history.gather(np.array([1, 2]), np.array([3.0, 3.0]), np.array([3.0, 3.0]), depth=3)
>>> items.tolist(), ages[0, :2].tolist()            # most recent first, padded with 0
([[8, 7, 0], [7, 0, 0]], [1.0, 2.0])
>>> history.gather(np.array([1]), np.array([np.inf]), np.array([3.0]), depth=3)[0].tolist()   # all of c1's lines
[[8, 7, 0]]
>>> history.append(2, 2.5, 9, 3)                    # an order the service saw: in the next query
>>> history.gather(np.array([2]), np.array([3.0]), np.array([3.0]), depth=3)[0].tolist()
[[9, 7, 0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PAD_AGE = 1e4  # age in days of a padding line
# Key of (customer, time) in one sortable float: customer * _KEY_SPAN + days since 1970 (valid until year 2243).
_KEY_SPAN = 100_000.0


@dataclass
class History:
    """Past order lines sorted by (customer, time), and per-customer tails of lines appended since."""

    key: np.ndarray  # customer * _KEY_SPAN + t, sorted
    cust_start: np.ndarray  # cust_start[c] = first row of customer c (length n_customers + 1)
    item: np.ndarray
    rest: np.ndarray
    t: np.ndarray
    # customer -> lines (t, item, rest) appended after build, in arrival order (see append)
    tail: dict[int, list[tuple[float, int, int]]] = field(default_factory=dict)

    @classmethod
    def build(cls, n_customers: int, lines: pd.DataFrame) -> History:
        """From encoded lines (columns ``cust, t, item, rest``); ``n_customers`` counts index 0."""
        known = lines[lines["cust"] > 0]
        order = np.lexsort((known["t"].to_numpy(), known["cust"].to_numpy()))
        cust = known["cust"].to_numpy()[order].astype(np.int64)
        t = known["t"].to_numpy()[order]
        starts = np.searchsorted(cust, np.arange(n_customers + 1))
        return cls(
            cust * _KEY_SPAN + t,
            starts.astype(np.int64),
            known["item"].to_numpy()[order].astype(np.int32),
            known["rest"].to_numpy()[order].astype(np.int32),
            t,
        )

    @property
    def n_lines(self) -> int:
        return len(self.item) + sum(len(v) for v in self.tail.values())

    def append(self, cust: int, t: float, item: int, rest: int) -> None:
        """Fold one new line in (O(1)); customers beyond the built vocabulary are fine."""
        if cust > 0:
            self.tail.setdefault(int(cust), []).append((float(t), int(item), int(rest)))

    def last_time(self, cust: int, item: int | None, before: float) -> float | None:
        """When the customer last ordered ``item`` (None: anything) before ``before`` (days), built lines and tail;
        None if never."""
        cust = int(cust)
        best = None
        if 0 < cust < len(self.cust_start) - 1:
            lo, hi = int(self.cust_start[cust]), int(self.cust_start[cust + 1])
            hit = (self.t[lo:hi] < before) & ((self.item[lo:hi] == item) if item is not None else True)
            if hit.any():
                best = float(self.t[lo:hi][hit].max())
        for t, it, _ in self.tail.get(cust, ()):
            if (item is None or it == item) and t < before and (best is None or t > best):
                best = t
        return best

    def window(self, cust: np.ndarray, feature_time: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the last ``depth`` built lines before ``feature_time`` per query, most recent first, and their
        validity (the tail is not included: :meth:`gather` merges it)."""
        cust = np.asarray(cust, dtype=np.int64)
        built = (cust > 0) & (cust < len(self.cust_start) - 1)
        cust_c = np.where(built, cust, 0)
        start = self.cust_start[cust_c]
        end = np.searchsorted(self.key, cust_c * _KEY_SPAN + np.asarray(feature_time), side="left")
        # Within the customer's own lines: a time past the key span (``inf``: "all of them") would run into the next.
        end = np.clip(end, start, self.cust_start[cust_c + 1])
        idx = end[:, None] - 1 - np.arange(depth)[None, :]
        valid = (idx >= start[:, None]) & built[:, None]
        return np.where(valid, idx, 0), valid

    def recent(self, cust: np.ndarray, feature_time: np.ndarray, depth: int):
        """The last ``depth`` lines before ``feature_time`` per query: ``(items, restaurants, times)``, newest first;
        padding is item 0 at time ``-inf`` (unknown customers, lines beyond the history)."""
        idx, valid = self.window(cust, feature_time, depth)
        if len(self.item) == 0:
            valid[:] = False
        items = np.where(valid, self.item[idx] if len(self.item) else 0, 0).astype(np.int32)
        rests = np.where(valid, self.rest[idx] if len(self.rest) else 0, 0).astype(np.int32)
        times = np.where(valid, self.t[idx] if len(self.t) else 0.0, -np.inf)
        if self.tail:
            self._merge_tail(np.asarray(cust), np.asarray(feature_time), items, rests, times)
        return items, rests, times

    def gather(self, cust: np.ndarray, feature_time: np.ndarray, at: np.ndarray, depth: int):
        """The last ``depth`` lines before ``feature_time`` per query: items, restaurants, age in days at ``at``.

        Unknown customers (index 0) and lines beyond the history are padding: item 0, age 1e4 days.
        """
        items, rests, times = self.recent(cust, feature_time, depth)
        ages = np.where(items > 0, np.asarray(at, np.float64)[:, None] - times, PAD_AGE).astype(np.float32)
        return items, rests, ages

    def _merge_tail(self, cust, feature_time, items, rests, times) -> None:
        """Rows whose customer has tail lines: merge them with the built lines, newest ``depth`` first."""
        depth = items.shape[1]
        for row in np.flatnonzero([int(c) in self.tail for c in cust]):
            new = [line for line in self.tail[int(cust[row])] if line[0] < feature_time[row]]
            if not new:
                continue
            keep = items[row] > 0
            old = list(
                zip(times[row][keep].tolist(), items[row][keep].tolist(), rests[row][keep].tolist(), strict=True)
            )
            # Newest first; at equal times the later-added line first (as the built lines are ordered).
            merged = sorted(old[::-1] + new, key=lambda line: line[0])[::-1][:depth]
            items[row], rests[row], times[row] = 0, 0, -np.inf
            for j, (t, item, rest) in enumerate(merged):
                items[row, j], rests[row, j], times[row, j] = item, rest, t


# Above this id, batch_item_columns searches the sorted history items instead of a lookup table indexed by id.
_TABLE_IDS = 1 << 24


def batch_item_columns(hist_items: np.ndarray, cands: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Compact column codes for per-row tables over a batch: ``(hist_code, cand_code, width)``.

    The tables span only the items of this batch's histories (column 0: none of them), not the catalogue, so
    scattering a batch's histories costs ``B x (distinct history items + 1)`` rather than ``B x catalogue``.
    ``hist_items`` are the (non-padding) history item ids to scatter, ``cands`` the candidates to gather;
    a candidate not in any history gets column 0, which is never written. Columns follow the items' order.

    >>> hist_code, cand_code, width = batch_item_columns(np.array([7, 3, 7]), np.array([[3, 5, 7]]))
    >>> hist_code.tolist(), cand_code.tolist(), width
    ([2, 1, 2], [[1, 0, 2]], 3)
    """
    hist_items = np.asarray(hist_items).reshape(-1)
    ordered = np.sort(hist_items)
    seen = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered
    if len(seen) == 0:
        return np.zeros(0, np.intp), np.zeros(np.shape(cands), np.intp), 1
    top = max(int(seen[-1]), int(np.max(cands)) if np.size(cands) else 0)
    if top < _TABLE_IDS:
        # Uninitialised on purpose: only the cells of the history items are written, and a candidate's cell is
        # trusted only where it points back at the candidate itself (no fill of a catalogue-sized table per batch).
        column = np.empty(top + 1, np.intp)
        column[seen] = np.arange(len(seen))
        hist_pos, pos = column[hist_items], column[cands]
    else:  # ids too large for a table: binary search (slower on unsorted candidates)
        hist_pos, pos = np.searchsorted(seen, hist_items), np.searchsorted(seen, cands)
    in_history = np.take(seen, pos, mode="clip") == cands  # "clip": whatever the cell held, a valid index
    return hist_pos + 1, np.where(in_history, pos + 1, 0), len(seen) + 1


class BatchTables:
    """Per-row tables over one batch's history (columns: :func:`batch_item_columns`), built once per batch and
    shared by every feature that scatters the history lines and reads the tables at the candidates.

    ``hist`` ``(B, H)`` item ids, newest line first (0: padding), ``cands`` ``(B, C)``. :meth:`sum` and
    :meth:`reduce` return ``(B, C)`` per candidate; a candidate that is not in its row's history (or padding)
    reads the untouched cell (0 for sums, ``initial`` for reductions).

    >>> t = BatchTables(np.array([[7, 3, 7, 0]]), np.array([[3, 5, 7, 0]]))
    >>> t.sum().tolist(), t.sum(t.lines(np.array([[1.0, 2.0, 4.0, 8.0]]))).tolist()
    ([[1, 0, 2, 0]], [[2.0, 0.0, 5.0, 0.0]])
    >>> t.reduce(np.minimum, t.lines(np.array([[1.0, 2.0, 4.0, 8.0]])), 99.0).tolist(), t.new.tolist()
    ([[2.0, 99.0, 1.0, 99.0]], [[False, True, True, False]])
    >>> t.count is t.count   # the plain count: once per batch, read by several features
    True
    """

    def __init__(self, hist: np.ndarray, cands: np.ndarray):
        b, h = hist.shape
        self.shape = (b, h)
        self.index = np.flatnonzero(hist.ravel() > 0)  # the history lines, row by row; padding left out
        self.rows = self.index // h
        code, cand_code, width = batch_item_columns(hist.ravel()[self.index], cands)
        self.size = b * width
        self.flat = self.rows * width + code  # each line's cell
        self.at = np.arange(b)[:, None] * width + cand_code  # each candidate's cell
        self._new: np.ndarray | None = None
        self._count: np.ndarray | None = None

    def lines(self, values: np.ndarray) -> np.ndarray:
        """``values`` ``(B, H)`` at the history lines (padding left out), in the order the tables take them."""
        return values.ravel()[self.index]

    def sum(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Per candidate: its lines' ``weights`` summed in line order (float64), or counted (int64) without."""
        return np.bincount(self.flat, weights, self.size)[self.at]

    def reduce(self, ufunc: np.ufunc, values: np.ndarray, initial: float) -> np.ndarray:
        """Per candidate: ``ufunc`` (``np.maximum``, ``np.minimum``) over its lines' ``values``, from ``initial``."""
        table = np.full(self.size, initial, values.dtype)
        ufunc.at(table, self.flat, values)
        return table[self.at]

    @property
    def count(self) -> np.ndarray:
        """``(B, C)`` int64: the candidate's lines in its row, :meth:`sum` without weights (computed once)."""
        if self._count is None:
            self._count = self.sum()
        return self._count

    @property
    def new(self) -> np.ndarray:
        """``(B, H)``: the line is valid and its item is in no older line of its row (computed once)."""
        if self._new is None:
            order = np.arange(len(self.flat))
            last = np.full(self.size, -1, np.intp)
            np.maximum.at(last, self.flat, order)  # the oldest line of each (row, item)
            new = np.zeros(self.shape[0] * self.shape[1], bool)
            new[self.index] = last[self.flat] == order
            self._new = new.reshape(self.shape)
        return self._new
