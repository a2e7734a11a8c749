"""Item-to-item co-occurrence: "customers who ordered what you ordered also ordered ...".

Two items co-occur when the same customer ordered both during training (customer level rather than basket
level, so it also works at restaurant level, where an order holds one restaurant). With ``X`` the binary
customer x item matrix, ``C = X^T X`` and ``S[i, j] = C[i, j] / C[i, i]`` (the share of item i's customers who
also ordered j; ``S[i, i] = 1`` keeps the customer's own items in play). A customer's scores are
``h @ S`` where ``h`` are their recency-weighted past orders; items the customer's neighbourhood never
touched, and customers without history, fall back to area popularity.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> from foodrec.recommenders.base import make_queries
>>> orders = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3", "o4", "o5"], "customer_id": ["c1", "c1", "c2", "c2", "c3"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00"] * 5, utc=True),
...     "area": ["a"] * 5, "restaurant_id": ["r1", "r2", "r1", "r2", "r3"]})
>>> rec = ItemCooccurrence().fit(OrderLog(orders[orders.order_id != "o2"]))
>>> rec.recommend(make_queries(["c1"], ["a"], ["2026-01-02T12:00Z"]), k=3).items.tolist()
[['r1', 'r2', 'r3']]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.recommenders.base import Ranking
from foodrec.recommenders.baselines.common import (
    SparseCounts,
    as_str_objects,
    check_queries,
    encode_contexts,
)
from foodrec.recommenders.baselines.popularity import PopularityBaseline


class ItemCooccurrence(PopularityBaseline):
    """Co-occurrence scores seeded by the customer's history, backed by area popularity.

    Args:
        level, area_prior, half_life_days: as in :class:`PopularityBaseline`.
        max_neighbours: keep only the strongest neighbours of each item (keeps ``S`` sparse on large logs).
    """

    name: ClassVar[str] = "item-cooccurrence"
    default_strategy: ClassVar[str] = "customer-history"

    def __init__(
        self,
        level: str | None = None,
        strategy: str | None = None,
        area_prior: float = 10.0,
        meal_prior: float = 10.0,
        half_life_days: float = 14.0,
        max_neighbours: int = 30,
    ):
        super().__init__(level, "customer-history", area_prior, meal_prior, half_life_days)
        self.max_neighbours = int(max_neighbours)
        self.similarity: sparse.csr_matrix | None = None

    def fit(self, log: OrderLog) -> ItemCooccurrence:
        super().fit(log)
        binary = (self.tables["history"].matrix > 0).astype(np.float32).tocsr()
        self.similarity = self._similarity_rows(binary, np.arange(binary.shape[1]))
        return self

    def _similarity_rows(self, binary: sparse.csr_matrix, items: np.ndarray) -> sparse.csr_matrix:
        """The rows of ``S`` for ``items`` (item codes), from the binary customer x item matrix ``X``:
        ``C[items] = X[:, items]^T X``, each row divided by its diagonal entry, the strongest kept."""
        columns = binary if len(items) == binary.shape[1] else binary.tocsc()[:, items]
        co = (columns.T @ binary).tocsr()
        diag = np.asarray(co[np.arange(len(items)), items]).ravel().astype(np.float64)
        diag[diag == 0] = 1.0
        sim = sparse.csr_matrix(sparse.diags(1.0 / diag) @ co, dtype=np.float32)
        sim.sort_indices()  # ties at the cut are kept by item order, however the rows were computed
        return _keep_strongest(sim, self.max_neighbours)

    def observe(self, orders: pd.DataFrame) -> int:
        """:meth:`Recommender.observe`: the history counted in place (:meth:`PopularityBaseline.observe`), then
        only the rows of ``S`` that can change are computed again. ``C = X^T X`` gains entries only in the rows of
        the items of customers who ordered something new, so those rows are recomputed from ``X`` as :meth:`fit`
        computes them: the same ``S`` as a refit (tested), without recomputing ``C`` for the whole catalogue. A new
        item or area refits, as before."""
        history = self.tables.get("history")
        before = None if history is None else history.matrix
        taken = super().observe(orders)
        table = self.tables.get("history")
        if not taken or table is not history or self.similarity is None or table.matrix is before:
            return taken  # nothing new, or a refit (fit built S again)
        customers = table.codes(as_str_objects(orders["customer_id"]).reset_index(drop=True))
        binary = (table.matrix > 0).astype(np.float32).tocsr()
        items = np.unique(binary[np.unique(customers)].indices)
        if len(items):
            fresh = self._similarity_rows(binary, items)
            keep = np.ones(self.similarity.shape[0], np.float32)
            keep[items] = 0.0
            place = sparse.csr_matrix(
                (np.ones(len(items), np.float32), (items, np.arange(len(items)))), shape=(len(keep), len(items))
            )
            similarity = sparse.diags(keep) @ self.similarity
            similarity.eliminate_zeros()  # the replaced rows (S holds no zeros: _keep_strongest dropped them)
            self.similarity = sparse.csr_matrix(similarity + place @ fresh, dtype=np.float32)
        return taken

    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        check_queries(queries)
        self._fitted_counts()
        if self.similarity is None:
            raise InputError(f"recommender {self.name!r} is not fitted yet: call fit(log) first")
        history = self.tables["history"]
        area_rows = self.tables["area"].codes(as_str_objects(queries["area"]).reset_index(drop=True))
        customer_rows = history.codes(as_str_objects(queries["customer_id"]).reset_index(drop=True))
        context, distinct = encode_contexts(area_rows, customer_rows)
        spread = history.matrix[distinct[:, 1]] @ self.similarity
        return self._rank_own_first(spread, context, distinct[:, 0], k)

    def _own_rows(self, customer_rows: np.ndarray) -> Any:
        """The customers' history spread over their items' neighbours (``h @ S``), as :meth:`recommend` does."""
        if self.similarity is None:
            raise InputError(f"recommender {self.name!r} is not fitted yet: call fit(log) first")
        return self.tables["history"].matrix[customer_rows] @ self.similarity

    def config(self) -> dict[str, Any]:
        return {**super().config(), "max_neighbours": self.max_neighbours}

    def save_state(self, directory: Path) -> None:
        super().save_state(directory)
        coo = self.similarity.tocoo()
        pd.DataFrame({"key": self.items[coo.row], "item_id": self.items[coo.col], "weight": coo.data}).to_parquet(
            directory / "similarity.parquet", index=False
        )

    @classmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> ItemCooccurrence:
        rec = super().load_state(directory, manifest)
        rec.max_neighbours = int(manifest.get("config", {}).get("max_neighbours", 30))
        try:
            saved = SparseCounts.from_saved(pd.read_parquet(directory / "similarity.parquet"), rec.items)
        except (OSError, KeyError, ValueError) as err:
            raise InputError(f"{directory}: cannot load {cls.name!r} ({err})") from err
        # Rows of the saved matrix are keyed by item id; put them back in catalogue order.
        order = saved.codes(rec.items)
        rec.similarity = sparse.csr_matrix(saved.matrix[order], dtype=np.float32)
        return rec


def _keep_strongest(matrix: sparse.csr_matrix, top: int) -> sparse.csr_matrix:
    """Zero all but the ``top`` largest entries of each row."""
    matrix = matrix.tocsr()
    counts = np.diff(matrix.indptr)
    if counts.max(initial=0) <= top:
        return matrix
    keep = np.ones(matrix.nnz, dtype=bool)
    for row in np.flatnonzero(counts > top):
        lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
        values = matrix.data[lo:hi]
        drop = np.argsort(-values, kind="stable")[top:]
        keep[lo + drop] = False
    matrix.data = np.where(keep, matrix.data, 0).astype(matrix.data.dtype)
    matrix.eliminate_zeros()
    return matrix
