"""The served blend over item codes: :func:`~foodrec.recommenders.keras.selection.fuse`, vectorised over a batch.

Validation (``selection.py``) defines the blend as a weighted reciprocal-rank fusion of the network's and the
baseline's top-``FUSION_DEPTH`` lists, on item ids, one row at a time in Python. The service ranks batches of
parsed queries, so :func:`fuse_codes` computes the same scores (the same float64 operations on the same ranks) and
the same order (score descending, ties by first appearance in the network's list, then the baseline's) on integer
codes for a whole batch with a few array operations; a test checks it equals ``fuse`` on random lists.

:class:`UnionCodes` gives the baseline's items codes in the network's item space (items the network does not know
get codes after it), so both lists can be fused as integers and decoded once at the end.

>>> a = np.array([[1, 2, 3]]); b = np.array([[3, 1, 9]])
>>> fuse_codes(a, b, 0.0, 3).tolist(), fuse_codes(a, b, 1.0, 3).tolist(), fuse_codes(a, b, 0.5, 2).tolist()
([[1, 2, 3]], [[3, 1, 9]], [[1, 3]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foodrec.recommenders.keras.selection import RANK_OFFSET


def fuse_codes(network: np.ndarray, baseline: np.ndarray, weight: float, k: int) -> np.ndarray:
    """:func:`~foodrec.recommenders.keras.selection.fuse` on code lists (0: none), whole batch at once: the top
    ``k`` codes per row, 0-padded. Each row of ``network`` and of ``baseline`` holds an item at most once (top-k
    lists do)."""
    n, da = network.shape
    db = baseline.shape[1]
    depth = max(da, db)  # fuse: an item missing from a list has the rank max(len(a), len(b))
    a_ok, b_ok = network > 0, baseline > 0
    same = (network[:, :, None] == baseline[:, None, :]) & a_ok[:, :, None] & b_ok[:, None, :]  # (n, da, db)
    in_b, in_a = same.any(2), same.any(1)
    rank_b_of_a = np.where(in_b, same.argmax(2), depth)
    w = float(weight)
    score_a = (1.0 - w) / (RANK_OFFSET + np.arange(da, dtype=np.float64))[None, :] + w / (RANK_OFFSET + rank_b_of_a)
    score_b = np.broadcast_to((1.0 - w) / (RANK_OFFSET + depth) + w / (RANK_OFFSET + np.arange(db, dtype=np.float64)),
                              (n, db))  # fmt: skip
    score = np.concatenate([np.where(a_ok, score_a, -np.inf), np.where(b_ok & ~in_a, score_b, -np.inf)], 1)
    codes = np.concatenate([network, baseline], 1)
    # Stable: equal scores keep their place in [*network, *baseline], fuse's "first seen" tie-break.
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(codes, order, 1)
    top = np.where(np.isfinite(np.take_along_axis(score, order, 1)), top, 0)
    if top.shape[1] < k:
        top = np.concatenate([top, np.zeros((n, k - top.shape[1]), top.dtype)], 1)
    return top


class UnionCodes:
    """Codes for a baseline's items in the network's item space, and the labels of both.

    ``of_baseline[j + 1]`` is the code of ``baseline_items[j]`` (index -1, the padding, maps to 0): its network
    code, or ``len(space_items) + m`` for the m-th item the network does not know. ``labels[code]`` is the id
    (None for 0).

    >>> from foodrec.features.vocabulary import Vocab
    >>> u = UnionCodes(Vocab(["a", "b"]), np.array(["b", "z"], dtype=object))
    >>> u.of_baseline[np.array([-1, 0, 1]) + 1].tolist(), u.labels.tolist()
    ([0, 2, 3], [None, 'a', 'b', 'z'])
    """

    def __init__(self, space_items: Any, baseline_items: np.ndarray):
        self.baseline_items = baseline_items  # kept to tell whether the baseline was refitted since
        self.n_space = len(space_items)
        codes = space_items.encode(baseline_items).astype(np.int64)
        unknown = codes == 0
        codes[unknown] = self.n_space + np.arange(int(unknown.sum()))
        self.of_baseline = np.concatenate([[0], codes]).astype(np.int64)
        self.labels = np.concatenate([space_items.decode(np.arange(self.n_space)), baseline_items[unknown]])

    def fits(self, space_items: Any, baseline_items: np.ndarray) -> bool:
        return self.baseline_items is baseline_items and self.n_space == len(space_items)
