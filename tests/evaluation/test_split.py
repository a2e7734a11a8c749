"""Temporal splits: training strictly before the cutoff, test from it on; folds always train on the past."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.evaluation.split import default_cutoff, temporal_split, time_blocked_folds, validation_split


def test_no_training_example_at_or_after_the_cutoff(log):
    split = temporal_split(log, until="2026-01-15T10:00")
    assert split.cutoff == pd.Timestamp("2026-01-15T10:00", tz="UTC")
    assert split.train.orders["ordered_at"].max() < split.cutoff
    assert split.test.orders["ordered_at"].min() >= split.cutoff
    assert len(split.train.orders) + len(split.test.orders) == len(log.orders)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(min_value=0.05, max_value=0.95))
def test_any_cutoff_inside_the_data_separates_past_and_future(log, fraction):
    start, end = log.start, log.end
    cutoff = start + (end - start) * fraction
    split = temporal_split(log, until=cutoff)
    assert (split.train.orders["ordered_at"] < cutoff).all()
    assert (split.test.orders["ordered_at"] >= cutoff).all()


def test_default_cutoff_leaves_about_a_fifth_of_the_days(log):
    split = temporal_split(log)
    days = log.orders["ordered_at"].dt.normalize().nunique()
    test_days = split.test.orders["ordered_at"].dt.normalize().nunique()
    assert split.cutoff == split.cutoff.normalize()  # a midnight
    assert test_days == pytest.approx(0.2 * days, abs=1)


def test_default_cutoff_is_local_midnight():
    at = pd.date_range("2026-01-01T20:00", periods=10, freq="D", tz="UTC")
    log = OrderLog(
        pd.DataFrame(
            {
                "order_id": [str(i) for i in range(10)],
                "customer_id": "c",
                "ordered_at": at,
                "area": "a",
                "restaurant_id": "r",
            }
        ),
        timezone="America/Los_Angeles",
    )
    cutoff = default_cutoff(log)
    assert cutoff.tz_convert("America/Los_Angeles").hour == 0


def test_test_days_limits_the_test_window(log):
    split = temporal_split(log, until="2026-01-10", test_days=2)
    assert split.test.orders["ordered_at"].max() < pd.Timestamp("2026-01-12", tz="UTC")


@pytest.mark.parametrize("until", ["2025-01-01", "2027-01-01"])
def test_cutoff_outside_the_data_is_an_input_error(log, until):
    with pytest.raises(InputError, match="outside the data"):
        temporal_split(log, until=until)


def test_bad_cutoff_string_is_an_input_error(log):
    with pytest.raises(InputError, match="not a timestamp"):
        temporal_split(log, until="next tuesday")


def test_one_day_log_needs_an_explicit_cutoff():
    at = pd.to_datetime(["2026-01-01T10:00Z", "2026-01-01T12:00Z"], utc=True)
    log = OrderLog(
        pd.DataFrame({"order_id": ["1", "2"], "customer_id": "c", "ordered_at": at, "area": "a", "restaurant_id": "r"})
    )
    with pytest.raises(InputError, match="at least 2 days"):
        temporal_split(log)
    assert len(temporal_split(log, until="2026-01-01T11:00").test.orders) == 1


def test_validation_is_the_latest_slice_of_training(log):
    split = temporal_split(log)
    valid = validation_split(split.train, fraction=0.15)
    assert valid.train.orders["ordered_at"].max() < valid.cutoff <= valid.test.orders["ordered_at"].min()
    assert valid.test.orders["ordered_at"].max() < split.cutoff
    with pytest.raises(InputError):
        validation_split(split.train, fraction=1.5)


def test_time_blocked_folds_train_on_the_past_only(log):
    folds = time_blocked_folds(log, 4)
    assert len(folds) == 4
    previous = None
    for fold in folds:
        assert fold.train.orders["ordered_at"].max() < fold.cutoff <= fold.test.orders["ordered_at"].min()
        if previous is not None:
            assert fold.cutoff > previous.cutoff
            assert len(fold.train.orders) > len(previous.train.orders)
        previous = fold
    assert folds[-1].test.orders["ordered_at"].max() == log.end
    with pytest.raises(InputError):
        time_blocked_folds(log, 0)
