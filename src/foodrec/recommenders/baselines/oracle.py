"""The oracle: ranks by the synthetic city's ground-truth choice utilities, the ceiling of any recommender.

Only a store built from the synthetic city has ground truth (``STORE/truth/``, copied there by ingest); on real
data fitting the oracle is a one-line :class:`~foodrec.errors.InputError`. The oracle sees the same training
history as every other recommender (``GroundTruth.scores`` gets the training orders only), so it is a fair ceiling.

>>> rec = Oracle().fit(store.order_log(until="2026-03-01"))          # doctest: +SKIP
>>> rec.recommend(queries, k=10).items[0]                            # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.recommenders.base import Ranking, Recommender
from foodrec.recommenders.baselines.common import BLOCK_CELLS, check_queries, top_k_rows

TRUTH_DIR = "truth"


def has_ground_truth(log: OrderLog) -> bool:
    """True when the log comes from a store that keeps a synthetic city's ground truth."""
    return log.source is not None and (Path(log.source) / TRUTH_DIR).is_dir()


def _load_truth(source: Path) -> Any:
    try:
        from foodrec.data.synthetic.truth import GroundTruth
    except ImportError as err:
        raise InputError(f"the oracle needs foodrec.data.synthetic.truth, which is unavailable ({err})") from err
    return GroundTruth.load(source)


class Oracle(Recommender):
    """Ranks by ``GroundTruth.scores`` (synthetic city only)."""

    name: ClassVar[str] = "oracle"

    def __init__(self, level: str | None = None, chunk_size: int = 2000):
        super().__init__(level=level)
        self.chunk_size = int(chunk_size)
        self.source: Path | None = None
        self.history: pd.DataFrame | None = None
        self._truth: Any = None

    def fit(self, log: OrderLog) -> Oracle:
        if not has_ground_truth(log):
            where = f" ({log.source})" if log.source is not None else ""
            raise InputError(
                f"the oracle needs a synthetic city's ground truth (STORE/{TRUTH_DIR}/) and this store has none{where}:"
                " it only exists for data made by `foodrec generate`"
            )
        self.level = log.resolve_level(self.level)
        self.source = Path(log.source)
        self.history = log.orders
        self._truth = _load_truth(self.source)
        return self

    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        check_queries(queries)
        if self._truth is None or self.history is None:
            raise InputError("recommender 'oracle' is not fitted yet: call fit(log) first")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        queries = queries[["customer_id", "area", "at"]].reset_index(drop=True)
        items_out, scores_out = [], []
        chunk = self.chunk_size
        start = 0
        while start < len(queries):
            part = queries.iloc[start : start + chunk].reset_index(drop=True)
            with warnings.catch_warnings():
                # numpy's notice about dropping the (UTC) zone when the truth converts timestamps is noise here.
                warnings.filterwarnings("ignore", message="no explicit representation of timezones")
                item_ids, utilities = self._truth.scores(part, self.history, self.level)
            item_ids = np.asarray(item_ids, dtype=object)
            idx, scores = top_k_rows(np.asarray(utilities, dtype=np.float64), k)
            idx[np.isneginf(scores)] = -1  # -inf utility: not available there, so not recommended
            labels = np.append(item_ids.astype(str).astype(object), None).astype(object)
            items_out.append(labels[idx])
            scores_out.append(scores)
            start += len(part)
            # Keep the utilities block near BLOCK_CELLS whatever the catalogue size.
            chunk = max(1, min(self.chunk_size, BLOCK_CELLS // max(len(item_ids), 1)))
        if not items_out:
            return Ranking(items=np.empty((0, k), dtype=object), scores=np.empty((0, k)))
        return Ranking(items=np.vstack(items_out), scores=np.vstack(scores_out))

    def config(self) -> dict[str, Any]:
        return {"level": self.level, "source": str(self.source) if self.source else None}

    def save_state(self, directory: Path) -> None:
        if self.history is None:
            raise InputError("recommender 'oracle' is not fitted yet: call fit(log) first")
        self.history.to_parquet(directory / "history.parquet", index=False)

    @classmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> Oracle:
        config = manifest.get("config", {})
        rec = cls(level=config.get("level"))
        if not config.get("source"):
            raise InputError(f"{directory}: saved oracle does not say where its ground truth is")
        rec.source = Path(config["source"])
        rec.history = pd.read_parquet(directory / "history.parquet")
        rec._truth = _load_truth(rec.source)
        return rec
