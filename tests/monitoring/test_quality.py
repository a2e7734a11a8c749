"""Window quality agrees with the evaluation step's metrics and works with the real baselines."""

from __future__ import annotations

import numpy as np
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.monitoring.quality import hits_at_k, measure_window, ndcg_at_k, window_cases
from foodrec.recommenders.base import Ranking


def test_ndcg_matches_the_evaluation_metrics() -> None:
    metrics = pytest.importorskip("foodrec.evaluation.metrics")
    rng = np.random.default_rng(3)
    pool = np.array([f"i{j}" for j in range(15)], dtype=object)
    items = np.array([rng.choice(pool, 10, replace=False) for _ in range(200)], dtype=object)
    items[::7, 8:] = None  # padding
    targets = [set(rng.choice(pool, rng.integers(1, 4), replace=False)) for _ in range(200)]
    theirs = metrics.ranking_metrics(Ranking(items, np.zeros(items.shape)), targets, k=10)
    np.testing.assert_allclose(ndcg_at_k(items, targets, 10), theirs["ndcg"].to_numpy())
    np.testing.assert_allclose(hits_at_k(items, targets, 10), theirs["hr"].to_numpy())


def test_one_query_per_order_at_its_time(stable_log: OrderLog) -> None:
    day = stable_log.between("2026-01-06", "2026-01-07")
    queries, targets, order_ids = window_cases(day, "restaurant")
    assert len(queries) == len(targets) == len(order_ids) == day.orders["order_id"].nunique()
    first = day.orders.set_index("order_id").loc[order_ids[0]]
    assert first["restaurant_id"] in targets[0] and first["ordered_at"] == queries["at"].iloc[0]
    assert queries["at"].is_monotonic_increasing and all(len(t) == 1 for t in targets)


def test_measure_window_with_a_real_baseline(stable_log: OrderLog) -> None:
    baselines = pytest.importorskip("foodrec.recommenders.baselines")
    rec = baselines.BASELINES["area-popularity"](level="restaurant").fit(stable_log.before("2026-01-26"))
    quality = measure_window(rec, stable_log.between("2026-01-26", "2026-02-02"), "restaurant")
    assert quality.n > 500 and 0.2 < quality.mean_ndcg < 1.0
    assert np.isfinite(quality.top_scores).all()
    empty = measure_window(rec, stable_log.between("2027-01-01", "2027-01-02"), "restaurant")
    assert empty.n == 0 and np.isnan(empty.mean_ndcg)
