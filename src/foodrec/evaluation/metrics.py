"""Ranking metrics per query, vectorised: HR@K, NDCG@K, MRR@K, MAP@K, and catalogue coverage.

For a query with target set T and top-k list L (ranks r = 1..k):

- ``hr``   1 if any of L is in T;
- ``ndcg`` sum over hits of 1/log2(r + 1), divided by the same sum for min(|T|, k) hits at the top;
- ``mrr``  1/r of the first hit (0 when none in the top k);
- ``map``  average precision at k: sum over hits of precision@r, divided by min(|T|, k).

>>> import numpy as np
>>> from foodrec.recommenders.base import Ranking
>>> ranking = Ranking(items=np.array([["a", "b", "c"], ["x", "y", "z"]], dtype=object), scores=np.zeros((2, 3)))
>>> ranking_metrics(ranking, [{"b"}, {"q"}], k=3).round(3).to_dict("list")
{'hr': [1.0, 0.0], 'ndcg': [0.631, 0.0], 'mrr': [0.5, 0.0], 'map': [0.5, 0.0]}
>>> catalogue_coverage(ranking, catalogue_size=12)
0.5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from foodrec.errors import InputError
from foodrec.recommenders.base import Ranking

METRICS: tuple[str, ...] = ("hr", "ndcg", "mrr", "map")


def hit_matrix(items: np.ndarray, targets: Sequence[set[str]]) -> np.ndarray:
    """Boolean ``(n, k)``: is ``items[i, r]`` one of query i's targets (padding ``None`` never is)."""
    n, k = items.shape
    if len(targets) != n:
        raise InputError(f"{n} ranked queries but {len(targets)} target sets")
    lengths = np.fromiter((len(t) for t in targets), dtype=np.int64, count=n)
    flat_targets = np.fromiter((item for t in targets for item in t), dtype=object, count=int(lengths.sum()))
    flat_items = items.reshape(-1)
    codes, _ = pd.factorize(np.concatenate([flat_items, flat_targets]), use_na_sentinel=True)
    item_codes = codes[: flat_items.size]
    target_codes = codes[flat_items.size :]
    width = np.int64(codes.max(initial=0) + 1)
    item_keys = np.repeat(np.arange(n, dtype=np.int64), k) * width + item_codes
    target_keys = np.repeat(np.arange(n, dtype=np.int64), lengths) * width + target_codes
    hits = np.isin(item_keys, target_keys) & (item_codes >= 0)
    return hits.reshape(n, k)


def ranking_metrics(ranking: Ranking, targets: Sequence[set[str]], k: int = 10) -> pd.DataFrame:
    """Per-query ``hr, ndcg, mrr, map`` at ``k`` (one row per query, in order)."""
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    items = np.asarray(ranking.items, dtype=object)
    if items.ndim != 2:
        raise InputError(f"a ranking must be 2-D (queries x k), got shape {items.shape}")
    items = items[:, :k]
    n, kk = items.shape
    hits = hit_matrix(items, targets).astype(np.float64)
    n_targets = np.fromiter((len(t) for t in targets), dtype=np.int64, count=n)
    ranks = np.arange(1, kk + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1.0)

    hr = hits.any(axis=1).astype(np.float64)
    first = np.argmax(hits > 0, axis=1)
    mrr = np.where(hr > 0, 1.0 / (first + 1.0), 0.0)
    dcg = hits @ discounts
    ideal_hits = np.minimum(n_targets, k)
    ideal_cum = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(1, k + 1, dtype=np.float64) + 1.0))])
    idcg = ideal_cum[ideal_hits]
    ndcg = np.divide(dcg, idcg, out=np.zeros(n), where=idcg > 0)
    precision = np.cumsum(hits, axis=1) / ranks
    ap = np.divide((precision * hits).sum(axis=1), ideal_hits, out=np.zeros(n), where=ideal_hits > 0)
    return pd.DataFrame({"hr": hr, "ndcg": ndcg, "mrr": mrr, "map": ap})


def catalogue_coverage(ranking: Ranking, catalogue_size: int, k: int | None = None) -> float:
    """Share of the catalogue that appears in at least one top-k list (0 when the catalogue is empty)."""
    items = np.asarray(ranking.items, dtype=object)
    if k is not None:
        items = items[:, :k]
    shown = pd.unique(items.reshape(-1))
    shown = shown[pd.notna(shown)]
    return float(len(shown) / catalogue_size) if catalogue_size > 0 else 0.0
