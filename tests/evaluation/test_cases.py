"""Test cases: one query per test order, its targets, and segments decided by the training log only."""

import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.evaluation.cases import make_test_cases
from foodrec.evaluation.split import temporal_split


def test_one_query_per_test_order_with_all_its_dishes(log):
    split = temporal_split(log)
    cases = make_test_cases(split.train, split.test, "dish")
    test = split.test.orders
    assert len(cases) == test["order_id"].nunique()
    for order_id, targets in zip(cases.order_ids[:50], cases.targets[:50], strict=True):
        assert targets == set(test.loc[test["order_id"] == order_id, "item_id"])
    assert list(cases.queries.columns) == ["customer_id", "area", "at"]
    assert cases.queries["at"].is_monotonic_increasing
    assert (cases.queries["at"] >= split.cutoff).all()


def test_restaurant_level_targets(log):
    split = temporal_split(log)
    cases = make_test_cases(split.train, split.test, "restaurant")
    assert all(len(t) == 1 and next(iter(t)).startswith("r") and "-" not in next(iter(t)) for t in cases.targets)


def test_returning_means_seen_in_training_not_in_test():
    def frame(rows):
        return pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "area", "restaurant_id"]).assign(
            ordered_at=lambda f: pd.to_datetime(f["ordered_at"], utc=True)
        )

    train = OrderLog(frame([("o1", "old", "2026-01-01T12:00Z", "a", "r1")]))
    # "fresh" orders twice in the test period: still new, the recommender never saw them.
    test = OrderLog(
        frame(
            [
                ("o2", "old", "2026-01-02T12:00Z", "a", "r1"),
                ("o3", "fresh", "2026-01-02T13:00Z", "a", "r2"),
                ("o4", "fresh", "2026-01-03T13:00Z", None, "r2"),
            ]
        )
    )
    cases = make_test_cases(train, test)
    assert cases.segments["customer_type"].tolist() == ["returning", "new", "new"]
    assert cases.segments["area"].tolist() == ["a", "a", "(missing)"]
    assert cases.queries["area"].tolist() == ["a", "a", None]
    assert cases.catalogue_size == 1


def test_dish_level_without_items_is_an_input_error(log):
    no_items = OrderLog(log.orders.drop(columns="item_id"))
    split = temporal_split(no_items)
    with pytest.raises(InputError, match="item_id"):
        make_test_cases(split.train, split.test, "dish")


def test_subset_keeps_rows_aligned(log):
    split = temporal_split(log)
    cases = make_test_cases(split.train, split.test)
    returning = cases.subset((cases.segments["customer_type"] == "returning").to_numpy())
    assert len(returning) == len(returning.queries) == len(returning.segments)
    assert set(returning.segments["customer_type"]) == {"returning"}
