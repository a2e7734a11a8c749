"""The service's cold-start fallback: most ordered in the query's area, then most ordered overall.

The service fills any slot a recommender leaves empty (an unknown area, a tiny catalogue) from this,
and answers from it alone if a recommender fails, so a request never errors for lack of history.
It is a full :class:`~foodrec.recommenders.base.Recommender`, so it can also be served or saved.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> orders = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c2", "c3"],
...     "ordered_at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"], utc=True),
...     "area": ["a1", "a1", "a2"], "restaurant_id": ["r1", "r1", "r2"]})
>>> rec = PopularityFallback().fit(OrderLog(orders))
>>> rec.ranked("a2", 3)
(['r2', 'r1'], [2.0, 0.6666666666666666])
>>> rec.ranked("nowhere", 3)
(['r1', 'r2'], [0.6666666666666666, 0.3333333333333333])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.errors import InputError
from foodrec.recommenders.base import QUERY_COLUMNS, Ranking, Recommender
from foodrec.recommenders.reasons import popular_in


class PopularityFallback(Recommender):
    """Area popularity (share of the area's orders, plus 1 so it outranks global), then global share of orders."""

    name: ClassVar[str] = "serving-fallback"

    def __init__(self, level: str | None = None):
        super().__init__(level)
        self._global: list[str] = []
        self._global_scores: list[float] = []
        self._by_area: dict[str, tuple[list[str], list[float]]] = {}

    def fit(self, log: OrderLog) -> PopularityFallback:
        self.level = log.resolve_level(self.level)
        column = target_column(self.level)
        lines = log.orders[["order_id", "area", column]].dropna(subset=[column]).drop_duplicates()
        lines = lines.astype({column: "object", "area": "object"})
        counts = lines.groupby(column, sort=False).size()
        # Stable ties: count descending, then id ascending, so the same data gives the same ranking.
        ordered = counts.reset_index(name="n").sort_values(["n", column], ascending=[False, True])
        total = max(int(ordered["n"].sum()), 1)
        self._global = ordered[column].astype(str).tolist()
        self._global_scores = (ordered["n"] / total).astype(float).tolist()
        self._by_area = {}
        per_area = lines.dropna(subset=["area"]).groupby(["area", column], sort=False).size().reset_index(name="n")
        per_area = per_area.sort_values(["area", "n", column], ascending=[True, False, True])
        for area, group in per_area.groupby("area", sort=False):
            share = group["n"] / max(int(group["n"].sum()), 1)
            self._by_area[str(area)] = (group[column].astype(str).tolist(), (1.0 + share).astype(float).tolist())
        return self

    def ranked(self, area: str | None, k: int, exclude: set[str] | None = None) -> tuple[list[str], list[float]]:
        """Up to ``k`` item ids with scores for ``area`` (area first, then global), skipping ``exclude``."""
        items: list[str] = []
        scores: list[float] = []
        seen = set(exclude or ())
        sources = [self._by_area.get(area, ([], []))] if area is not None else []
        sources.append((self._global, self._global_scores))
        for ids, values in sources:
            for item, score in zip(ids, values, strict=True):
                if len(items) >= k:
                    return items, scores
                if item not in seen:
                    seen.add(item)
                    items.append(item)
                    scores.append(score)
        return items, scores

    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        missing = [c for c in QUERY_COLUMNS if c not in queries.columns]
        if missing:
            raise InputError(f"queries lack column(s) {', '.join(missing)} (need {', '.join(QUERY_COLUMNS)})")
        n = len(queries)
        items = np.full((n, k), None, dtype=object)
        scores = np.full((n, k), -np.inf)
        for i, area in enumerate(queries["area"].tolist()):
            ids, values = self.ranked(area if isinstance(area, str) else None, k)
            items[i, : len(ids)] = ids
            scores[i, : len(values)] = values
        return Ranking(items=items, scores=scores)

    def explain(self, queries: pd.DataFrame, items: Sequence[Sequence[str]]) -> list[list[str]]:
        """Popular in the query's area for items ordered there, else popular overall."""
        out = []
        for area, row in zip(queries["area"].tolist(), items, strict=True):
            local = set(self._by_area.get(area, ((), ()))[0]) if isinstance(area, str) else set()
            out.append([popular_in(area if str(item) in local else None) for item in row])
        return out

    def save_state(self, directory: Path) -> None:
        state = {"global": [self._global, self._global_scores], "by_area": self._by_area}
        (directory / "popularity.json").write_text(json.dumps(state))

    @classmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> PopularityFallback:
        state = json.loads((directory / "popularity.json").read_text())
        rec = cls(level=manifest.get("level"))
        rec._global, rec._global_scores = state["global"]
        rec._by_area = {area: (ids, values) for area, (ids, values) in state["by_area"].items()}
        return rec
