"""No leakage: training stops at the cutoff and no feature of a fitted baseline uses test-period data."""

import numpy as np
import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.evaluation.cases import make_test_cases
from foodrec.evaluation.split import temporal_split
from foodrec.recommenders.baselines import BASELINES
from foodrec.recommenders.registry import make_recommender

LEARNED = [name for name in BASELINES if name != "oracle"]


def scrambled_future(log: OrderLog, cutoff: pd.Timestamp, seed: int = 0) -> OrderLog:
    """The same log with every test-period order changed (other customers, items, areas) and new ones added."""
    orders = log.orders.copy()
    future = orders["ordered_at"] >= cutoff
    rng = np.random.default_rng(seed)
    for column in ("customer_id", "item_id", "restaurant_id", "area"):
        orders.loc[future, column] = rng.permutation(orders.loc[future, column].to_numpy())
    extra = (
        orders[future]
        .head(50)
        .assign(
            order_id=lambda f: "x" + f["order_id"],
            customer_id="brand-new",
            item_id="future-dish",
            restaurant_id="future-restaurant",
        )
    )
    return OrderLog(pd.concat([orders, extra], ignore_index=True), timezone=log.timezone)


@pytest.mark.parametrize("name", LEARNED)
def test_test_period_data_does_not_change_any_recommendation(log, name):
    split = temporal_split(log)
    other = temporal_split(scrambled_future(log, split.cutoff), until=split.cutoff)
    assert other.train.orders["ordered_at"].max() < split.cutoff
    pd.testing.assert_frame_equal(split.train.orders, other.train.orders)
    cases = make_test_cases(split.train, split.test)
    a = make_recommender(name).fit(split.train).recommend(cases.queries, k=10)
    b = make_recommender(name).fit(other.train).recommend(cases.queries, k=10)
    assert np.array_equal(a.items, b.items)
    assert "future-dish" not in set(a.items.ravel())


def test_history_is_frozen_at_the_cutoff(log):
    """A customer first seen in the test period is a new customer for customer-history (area popularity)."""
    split = temporal_split(log)
    rec = make_recommender("customer-history").fit(split.train)
    area = make_recommender("area-popularity").fit(split.train)
    test_only = sorted(set(split.test.orders["customer_id"]) - set(split.train.orders["customer_id"]))
    queries = pd.DataFrame(
        {"customer_id": test_only[:5] or ["nobody"], "area": "north", "at": split.cutoff + pd.Timedelta(days=1)}
    )
    np.testing.assert_array_equal(rec.recommend(queries, 10).items, area.recommend(queries, 10).items)
