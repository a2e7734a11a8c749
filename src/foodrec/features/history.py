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


def batch_item_columns(hist_items: np.ndarray, cands: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Compact column codes for per-row tables over a batch: ``(hist_code, cand_code, width)``.

    The tables span only the items of this batch's histories (column 0: none of them), not the catalogue, so
    scattering a batch's histories costs ``B x (distinct history items + 1)`` rather than ``B x catalogue``.
    ``hist_items`` are the (non-padding) history item ids to scatter, ``cands`` the candidates to gather;
    a candidate not in any history gets column 0, which is never written.

    >>> hist_code, cand_code, width = batch_item_columns(np.array([7, 3, 7]), np.array([[3, 5, 7]]))
    >>> hist_code.tolist(), cand_code.tolist(), width
    ([2, 1, 2], [[1, 0, 2]], 3)
    """
    seen, code = np.unique(hist_items, return_inverse=True)
    pos = np.minimum(np.searchsorted(seen, cands), max(len(seen) - 1, 0))
    in_history = seen[pos] == cands if len(seen) else np.zeros(cands.shape, bool)
    return code.reshape(-1) + 1, np.where(in_history, pos + 1, 0), len(seen) + 1
