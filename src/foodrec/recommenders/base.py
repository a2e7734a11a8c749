"""The one interface that joins the middle of the workflow.

A :class:`Recommender` is fitted on an :class:`~foodrec.data.orderlog.OrderLog` (everything before a
cutoff) and then ranks items for queries. A query is ``(customer_id, area, at)``: who asks, where the
food goes, and when. Baselines, Keras models, ``foodrec recommend``, evaluation and the service all
speak it, so any of them can stand in for any other.

>>> import pandas as pd
>>> from foodrec.recommenders.registry import make_recommender   # doctest: +SKIP
>>> rec = make_recommender("area-popularity").fit(log)            # doctest: +SKIP
>>> queries = make_queries(["c1"], ["9q8yy"], ["2026-03-01T12:30Z"])
>>> ranking = rec.recommend(queries, k=10)                        # doctest: +SKIP
>>> ranking.items.shape                                           # doctest: +SKIP
(1, 10)
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError

MANIFEST_FILE = "manifest.json"
QUERY_COLUMNS: tuple[str, ...] = ("customer_id", "area", "at")


def make_queries(customer_id: Any, area: Any, at: Any) -> pd.DataFrame:
    """Queries as the interface expects them: string ids and UTC timestamps.

    Missing areas (None/NaN) are allowed; recommenders fall back to wider popularity.
    """

    def ids(values: Any) -> pd.Series:
        series = pd.Series(values, dtype=object)
        return pd.Series([None if v is None or v != v else str(v) for v in series], dtype=object)

    customers, areas = ids(customer_id), ids(area)
    try:
        times = pd.to_datetime(pd.Series(at, dtype=object), utc=True, format="ISO8601")
    except (ValueError, TypeError) as err:
        raise InputError(f"queries: 'at' must be ISO 8601 timestamps ({err})") from err
    if times.isna().any():
        raise InputError("queries: 'at' is missing on some rows (ISO 8601 timestamps required)")
    if not len(customers) == len(areas) == len(times):
        raise InputError("queries: customer_id, area and at must have the same length")
    return pd.DataFrame({"customer_id": customers, "area": areas, "at": times.reset_index(drop=True)})


@dataclass(frozen=True)
class Ranking:
    """Top-k answers for n queries: ``items[i, r]`` is the item at rank r (0-based) for query i.

    Rows with fewer than k candidates are padded with ``None`` items and ``-inf`` scores.
    """

    items: np.ndarray  # shape (n, k), dtype object (str or None)
    scores: np.ndarray  # shape (n, k), float64, non-increasing along each row

    def __len__(self) -> int:
        return int(self.items.shape[0])

    @property
    def k(self) -> int:
        return int(self.items.shape[1])

    def to_frame(self) -> pd.DataFrame:
        """Long format: ``query_id, rank, item_id, score`` (rank starts at 1; padding dropped)."""
        n, k = self.items.shape
        frame = pd.DataFrame(
            {
                "query_id": np.repeat(np.arange(n), k),
                "rank": np.tile(np.arange(1, k + 1), n),
                "item_id": self.items.reshape(-1),
                "score": self.scores.reshape(-1),
            }
        )
        return frame[frame["item_id"].notna()].reset_index(drop=True)


class Recommender(ABC):
    """Fit on the past, rank items for queries. Subclasses set ``name`` and implement the three methods.

    ``level`` is ``"dish"`` (rank item ids) or ``"restaurant"`` (rank restaurant ids); ``None`` means
    "the log's default" and is fixed by :meth:`fit`.
    """

    name: ClassVar[str] = "recommender"

    def __init__(self, level: str | None = None):
        self.level = level

    @abstractmethod
    def fit(self, log: OrderLog) -> Recommender:
        """Learn from ``log`` (only the past: the caller has cut it at the training cutoff). Returns self."""

    @abstractmethod
    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        """Rank the top ``k`` items for each row of ``queries`` (columns ``customer_id, area, at``).

        Unknown customers and areas must get a sensible fallback (area, then global popularity), never an error.
        """

    # -- persistence: a directory with a JSON manifest ---------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings recorded in the manifest (override to add hyper-parameters)."""
        return {"level": self.level}

    @abstractmethod
    def save_state(self, directory: Path) -> None:
        """Write the fitted state into ``directory`` (no pickle: Parquet, JSON, ``.keras``)."""

    @classmethod
    @abstractmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> Recommender:
        """Rebuild a fitted recommender from :meth:`save_state`'s files and the manifest."""

    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        """Save atomically as ``path/`` holding the state and ``manifest.json``."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        self.save_state(staging)
        manifest = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "name": self.name,
            "level": self.level,
            "config": self.config(),
            "foodrec_version": _foodrec_version(),
            **(extra or {}),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str))
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            if backup.exists():
                _rmtree(backup)
            os.replace(target, backup)
            os.replace(staging, target)
            _rmtree(backup)
        else:
            os.replace(staging, target)
        return target


def load_recommender(path: str | os.PathLike[str], trusted_prefixes: tuple[str, ...] = ("foodrec.",)) -> Recommender:
    """Load a recommender saved with :meth:`Recommender.save`; only classes under ``trusted_prefixes`` are loaded."""
    directory = Path(path)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError(f"{str(path)!r} is not a saved recommender (no {MANIFEST_FILE})")
    try:
        manifest = json.loads(manifest_path.read_text())
        module_name, _, class_name = manifest["class"].rpartition(".")
    except (ValueError, KeyError, AttributeError) as err:
        raise InputError(f"{manifest_path}: unreadable manifest ({err})") from err
    if not module_name.startswith(trusted_prefixes):
        raise InputError(
            f"{manifest_path}: refusing to load class {manifest['class']!r} from outside {', '.join(trusted_prefixes)}"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise InputError(f"{manifest_path}: unknown recommender class {manifest['class']!r}") from err
    return cls.load_state(directory, manifest)


def _foodrec_version() -> str:
    from foodrec import __version__

    return __version__


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
