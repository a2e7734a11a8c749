"""Peer recommenders behind foodrec's Recommender interface (benchmarks only; optional extra dependencies).

* ``implicit-als`` - implicit ALS (``pip install implicit==0.7.3``), confidence = 1 + 20 * orders.
* ``lightfm-warp`` - LightFM with WARP loss (``pip install lightfm==1.17``). LightFM 1.17 (the last release, 2023)
  does not build here: its setup.py fails under current setuptools with
  ``AttributeError: 'dict' object has no attribute '__LIGHTFM_SETUP__'``. The next best maintained implementation
  of a learning-to-rank factorisation is used in its place:
* ``implicit-bpr`` - Bayesian Personalised Ranking from ``implicit`` (pairwise ranking loss, like LightFM's BPR).

Both see only customer x item order counts from the training period; unknown customers get global popularity
(the same fallback every foodrec recommender uses).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from unsaved import UnsavedRecommender

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.recommenders.base import Ranking


class _MatrixPeer(UnsavedRecommender):
    name: ClassVar[str] = "peer"

    def __init__(self, level: str | None = None, factors: int = 64, epochs: int = 20, seed: int = 0):
        super().__init__(level)
        self.factors, self.epochs, self.seed = factors, epochs, seed

    def _matrix(self, log: OrderLog) -> sp.csr_matrix:
        self.level = log.resolve_level(self.level)
        col = target_column(self.level)
        lines = log.orders.dropna(subset=[col]).drop_duplicates(["order_id", col])
        self.customers = pd.Index(lines["customer_id"].astype(str).unique())
        self.items = pd.Index(lines[col].astype(str).unique())
        rows = self.customers.get_indexer(lines["customer_id"].astype(str))
        cols = self.items.get_indexer(lines[col].astype(str))
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(self.customers), len(self.items)))
        m.sum_duplicates()
        self.popularity = np.asarray(m.sum(axis=0)).ravel()
        return m

    def _scores(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        users = self.customers.get_indexer(queries["customer_id"].astype(str))
        scores = np.tile(self.popularity / max(self.popularity.max(), 1) - 1e3, (len(users), 1))
        known = users >= 0
        if known.any():
            scores[known] = self._scores(users[known])
        k_eff = min(k, scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k_eff]
        items = np.full((len(users), k), None, dtype=object)
        out = np.full((len(users), k), -np.inf)
        items[:, :k_eff] = np.asarray(self.items, dtype=object)[top]
        out[:, :k_eff] = np.take_along_axis(scores, top, 1)
        return Ranking(items, out)


class ImplicitALS(_MatrixPeer):
    name: ClassVar[str] = "implicit-als"

    def __init__(self, level: str | None = None, **kw: Any):
        import implicit  # noqa: F401  (fail early when the extra is missing)

        super().__init__(level, **kw)

    def fit(self, log: OrderLog) -> ImplicitALS:
        from implicit.als import AlternatingLeastSquares

        m = self._matrix(log)
        self.model = AlternatingLeastSquares(
            factors=self.factors, regularization=0.05, iterations=self.epochs, random_state=self.seed, num_threads=1
        )
        self.model.fit((m * 20.0).tocsr(), show_progress=False)
        return self

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.user_factors[users] @ self.model.item_factors.T)


class ImplicitBPR(_MatrixPeer):
    name: ClassVar[str] = "implicit-bpr"

    def __init__(self, level: str | None = None, **kw: Any):
        import implicit  # noqa: F401

        super().__init__(level, **{"epochs": 100, **kw})

    def fit(self, log: OrderLog) -> ImplicitBPR:
        from implicit.bpr import BayesianPersonalizedRanking

        m = self._matrix(log)
        self.model = BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=0.05,
            regularization=0.01,
            iterations=self.epochs,
            random_state=self.seed,
            num_threads=1,
        )
        self.model.fit(m.tocsr(), show_progress=False)
        return self

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.user_factors[users] @ self.model.item_factors.T)


class LightFMWarp(_MatrixPeer):
    name: ClassVar[str] = "lightfm-warp"

    def __init__(self, level: str | None = None, **kw: Any):
        import lightfm  # noqa: F401

        super().__init__(level, **kw)

    def fit(self, log: OrderLog) -> LightFMWarp:
        from lightfm import LightFM

        m = self._matrix(log)
        self.model = LightFM(no_components=self.factors, loss="warp", random_state=self.seed)
        self.model.fit(m.tocoo(), epochs=self.epochs, num_threads=1)
        return self

    def _scores(self, users: np.ndarray) -> np.ndarray:
        n_items = len(self.items)
        uu = np.repeat(users, n_items)
        ii = np.tile(np.arange(n_items), len(users))
        return self.model.predict(uu, ii, num_threads=1).reshape(len(users), n_items)


from tifu import TifuKNN  # noqa: E402  (benchmarks/peers is on sys.path, as for quality.py's `from peers import`)

PEERS = {"tifu-knn": TifuKNN, "implicit-als": ImplicitALS, "implicit-bpr": ImplicitBPR, "lightfm-warp": LightFMWarp}
