"""The ranker's inputs for a batch of examples, read from the feature view (the one path for training,
evaluation, batch scoring and the service).

Ranking (``force_positives=False``): with a catalogue of at most ``full_max`` items every item is a candidate;
otherwise candidates are retrieved (:func:`~foodrec.features.retrieval.retrieve`), up to ``n_candidates``.

Training (``force_positives=True``): all items when there are at most ``train_full_max``, otherwise a sampled
softmax over ``n_train_candidates`` (:mod:`~foodrec.recommenders.keras.sampling`).

For an example at time ``t`` only orders before ``feature_time = min(t, cutoff)`` are used, so training examples
never see their own or later orders, and validation examples see only the period before validation.

>>> from foodrec.recommenders.keras.toydata import toy_log
>>> from foodrec.features.vocabulary import FeatureSpace
>>> from foodrec.features.view import FeatureView
>>> from foodrec.recommenders.keras.examples import Examples
>>> from foodrec.features.lines import order_lines
>>> log = toy_log(n_customers=8, n_restaurants=4, days=5, seed=1)
>>> space = FeatureSpace.fit(log, "restaurant")
>>> view = FeatureView.build(space, log)
>>> inputs, y = InputBuilder(view, depth=6).build(Examples.from_lines(order_lines(log, space)).take([0, 1]))
>>> inputs["candidates"].shape, inputs["history_items"].shape, inputs["popularity"].shape
((2, 2), (2, 6), (2, 2, 10))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foodrec.features.clock import N_HOURS
from foodrec.features.retrieval import retrieve
from foodrec.features.view import FeatureView
from foodrec.recommenders.keras.examples import Examples
from foodrec.recommenders.keras.sampling import sample_candidates


@dataclass
class InputBuilder:
    """Model inputs for batches of examples, from ``view``."""

    view: FeatureView
    depth: int = 50
    n_candidates: int = 200
    full_max: int = 5000
    cutoff: float = np.inf
    train_full_max: int = 600
    seed: int = 0
    n_train_candidates: int = 400
    popularity_tables: bool = True  # ranking reads the view's feature tables (False: per candidate, same numbers)

    @property
    def n_items(self) -> int:
        return len(self.view.space.items) - 1

    @property
    def full(self) -> bool:
        return self.n_items <= self.full_max

    def build(self, ex: Examples, force_positives: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``(inputs, targets)``; ``targets`` is the ordered items' share of each candidate (rows sum to 1 or 0)."""
        view, space = self.view, self.view.space
        ft = np.minimum(ex.at, self.cutoff)
        hist_items, hist_rest, ages = view.history.gather(ex.cust, ft, ex.at, self.depth)
        snap = view.popularity.snapshot_index(ft)
        n = len(ex)
        logq = None
        limit = self.train_full_max if force_positives else self.full_max
        if self.n_items <= limit:
            cands = np.broadcast_to(np.arange(1, self.n_items + 1, dtype=np.int32), (n, self.n_items))
        elif force_positives:
            rng = self.__dict__.setdefault("_rng", np.random.default_rng(self.seed))
            cands, logq = sample_candidates(ex.positives, hist_items, self.n_items, self.n_train_candidates, rng)
        else:
            cands = retrieve(view.popularity, hist_items, snap, ex.area, ex.meal, self.n_candidates)
        pop = self._popularity(cands, snap, ex, cached=self.popularity_tables and not force_positives)
        cands = np.ascontiguousarray(cands)
        n_hist = (hist_items > 0).sum(axis=1)
        # A customer without history is unknown at serving time too: hide the id so the model learns cold start.
        cust = np.where(n_hist > 0, view.model_customers(ex.cust), 0)
        inputs = {
            "customer": cust.astype(np.int32),
            "area": ex.area.astype(np.int32),
            "clock": np.stack([ex.hour, ex.dow], axis=1).astype(np.float32),
            "candidates": cands.astype(np.int32),
            "candidate_restaurants": space.item_restaurant.take(cands),
            "history_items": hist_items,
            "history_restaurants": hist_rest,
            "history_age": ages,
            "popularity": pop,
            "logq": np.zeros(cands.shape, np.float32) if logq is None else logq,
        }
        pos = ex.positives
        if not pos.any():  # queries (the service): nothing ordered yet
            return inputs, np.zeros(cands.shape, np.float32)
        hit = (cands[:, :, None] == pos[:, None, :]) & (pos[:, None, :] > 0)
        y = hit.any(axis=2).astype(np.float32)
        y /= np.maximum(y.sum(axis=1, keepdims=True), 1.0)
        return inputs, y

    def _popularity(self, cands: np.ndarray, snap: np.ndarray, ex: Examples, cached: bool = False) -> np.ndarray:
        """Popularity features of the candidates; ``cached``: through the view's feature tables (ranking asks for
        few query combinations; training's sampled candidates over the whole history would churn them)."""
        popularity = self.view.popularity
        hour = np.minimum(np.maximum(ex.hour.astype(np.int64), 0), N_HOURS - 1)  # np.clip's wrapper costs more
        if cands.strides[0] == 0 and len(ex):  # the whole catalogue: popularity depends on (snapshot, area, hour)
            key = (snap.astype(np.int64) * len(self.view.space.areas) + ex.area) * N_HOURS + hour
            uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            table = popularity.features(snap[first], ex.area[first], ex.meal[first], hour[first], cands[: len(uniq)])
            return table[inverse]
        read = popularity.gather_features if cached else popularity.features
        return read(snap, ex.area, ex.meal, hour, cands)
