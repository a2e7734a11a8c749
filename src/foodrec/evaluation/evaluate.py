"""Evaluate a fitted recommender on test cases: metrics overall and per segment, with bootstrap 95% CIs.

>>> split = temporal_split(store.order_log())                                     # doctest: +SKIP
>>> cases = make_test_cases(split.train, split.test)                              # doctest: +SKIP
>>> a = evaluate_recommender(make_recommender("customer-history").fit(split.train), cases)   # doctest: +SKIP
>>> b = evaluate_recommender(make_recommender("area-popularity").fit(split.train), cases)    # doctest: +SKIP
>>> a.value("ndcg"), paired_difference(a, b).loc["ndcg", ["diff", "ci_low", "ci_high"]]     # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from foodrec.errors import InputError
from foodrec.evaluation import bootstrap
from foodrec.evaluation.bootstrap import DEFAULT_N_BOOT, bootstrap_ci
from foodrec.evaluation.cases import SEGMENT_COLUMNS, TestCases
from foodrec.evaluation.metrics import METRICS, catalogue_coverage, ranking_metrics
from foodrec.recommenders.base import Ranking, Recommender


@dataclass
class EvaluationResult:
    """What :func:`evaluate_recommender` measured.

    ``overall``: index metric, columns ``mean, ci_low, ci_high``. ``segments``: long table with columns
    ``segment, value, n, metric, mean, ci_low, ci_high``. ``per_query``: one row of metrics per test case
    (the input of :func:`paired_difference`).
    """

    name: str
    k: int
    level: str
    n_queries: int
    overall: pd.DataFrame
    coverage: float
    segments: pd.DataFrame
    per_query: pd.DataFrame
    ranking: Ranking | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def value(self, metric: str) -> float:
        """The mean of ``metric`` (``hr, ndcg, mrr, map`` or ``coverage``)."""
        if metric == "coverage":
            return self.coverage
        if metric not in self.overall.index:
            raise InputError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}, coverage")
        return float(self.overall.loc[metric, "mean"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-query rows)."""
        return {
            "recommender": self.name,
            "k": self.k,
            "level": self.level,
            "n_queries": self.n_queries,
            "overall": {
                m: {c: _num(self.overall.loc[m, c]) for c in ("mean", "ci_low", "ci_high")} for m in self.overall.index
            },
            "coverage": self.coverage,
            "segments": [{key: _num(value) for key, value in row.items()} for row in self.segments.to_dict("records")],
            "seconds": self.seconds,
        }


def _num(value: Any) -> Any:
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 6)
    return value


def segment_table(
    per_query: pd.DataFrame, segments: pd.DataFrame, n_boot: int = DEFAULT_N_BOOT, seed: int = 0
) -> pd.DataFrame:
    """Mean and CI of every metric within each value of each segment column (area, meal time, customer type)."""
    rows = []
    for column in [c for c in SEGMENT_COLUMNS if c in segments.columns]:
        keys = segments[column].astype(object).fillna("(missing)").to_numpy()
        for value in sorted(pd.unique(keys), key=str):
            mask = keys == value
            ci = bootstrap_ci(per_query[mask], n_boot=n_boot, seed=seed)
            for metric, stats in ci.iterrows():
                rows.append(
                    {"segment": column, "value": str(value), "n": int(mask.sum()), "metric": metric, **stats.to_dict()}
                )
    return pd.DataFrame(rows, columns=["segment", "value", "n", "metric", "mean", "ci_low", "ci_high"])


def evaluate_recommender(
    rec: Recommender,
    cases: TestCases,
    k: int = 10,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    name: str | None = None,
    keep_ranking: bool = False,
) -> EvaluationResult:
    """Rank every test query with ``rec`` (already fitted on the training log) and measure the ranking."""
    if len(cases) == 0:
        raise InputError("no test cases to evaluate")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    t0 = time.perf_counter()
    ranking = rec.recommend(cases.queries, k=k)
    t1 = time.perf_counter()
    if len(ranking) != len(cases):
        raise InputError(f"recommender {rec.name!r} answered {len(ranking)} of {len(cases)} queries")
    per_query = ranking_metrics(ranking, cases.targets, k=k)
    overall = bootstrap_ci(per_query, n_boot=n_boot, seed=seed)
    segments = segment_table(per_query, cases.segments, n_boot=n_boot, seed=seed)
    t2 = time.perf_counter()
    return EvaluationResult(
        name=name or rec.name,
        k=k,
        level=cases.level,
        n_queries=len(cases),
        overall=overall,
        coverage=catalogue_coverage(ranking, cases.catalogue_size, k),
        segments=segments,
        per_query=per_query,
        ranking=ranking if keep_ranking else None,
        seconds={"recommend": round(t1 - t0, 3), "metrics": round(t2 - t1, 3)},
    )


def paired_difference(
    a_metrics: EvaluationResult | pd.DataFrame,
    b_metrics: EvaluationResult | pd.DataFrame,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """A minus B on the same queries with a bootstrap CI (see :func:`foodrec.evaluation.bootstrap.paired_difference`).

    Accepts two :class:`EvaluationResult` objects or two per-query metric tables.
    """
    a = a_metrics.per_query if isinstance(a_metrics, EvaluationResult) else a_metrics
    b = b_metrics.per_query if isinstance(b_metrics, EvaluationResult) else b_metrics
    return bootstrap.paired_difference(a, b, n_boot=n_boot, seed=seed, confidence=confidence)
