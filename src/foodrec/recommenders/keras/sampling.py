"""Negative sampling for training on large catalogues: a sampled softmax with the log-q correction.

Each training example gets its ordered items and the customer's past items, then uniform random items, up to
``n`` candidates. ``logq`` is the log inclusion probability of each random candidate (0 for the fixed ones), which
the model subtracts from its scores, so the sampled softmax approximates the softmax over the whole catalogue.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> cands, logq = sample_candidates(np.array([[4, 0]]), np.array([[2, 0]]), n_items=50, n=5, rng=rng)
>>> cands[0, :2].tolist(), logq[0, :2].tolist(), bool((logq[0, 2:] < 0).all())
([4, 2], [0.0, 0.0], True)
"""

from __future__ import annotations

import numpy as np

from foodrec.features.retrieval import first_unique


def sample_candidates(
    positives: np.ndarray, hist_items: np.ndarray, n_items: int, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(candidates (B, n), logq (B, n))`` for examples with these ordered items and histories."""
    b = len(positives)
    fixed = first_unique(np.concatenate([positives, hist_items], axis=1), positives.shape[1] + hist_items.shape[1])
    random_part = rng.integers(1, n_items + 1, (b, n), dtype=np.int32)
    cands = first_unique(np.concatenate([fixed, random_part], axis=1), n)
    own = ((cands[:, :, None] == positives[:, None, :]) & (positives[:, None, :] > 0)).any(2)
    own |= ((cands[:, :, None] == hist_items[:, None, :]) & (hist_items[:, None, :] > 0)).any(2)
    q = 1.0 - (1.0 - 1.0 / n_items) ** n
    logq = np.where(own | (cands == 0), 0.0, np.log(q)).astype(np.float32)
    return cands, logq
