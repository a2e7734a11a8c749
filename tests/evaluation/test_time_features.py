"""Local time features: hour, day of week, meal time in the data's time zone."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from foodrec.data.time_features import (
    MEAL_TIMES,
    check_timezone,
    day_of_week,
    hour_of_day,
    meal_time,
    meal_time_codes,
    meal_time_of_hour,
    time_features,
)
from foodrec.errors import InputError


def test_hour_is_local_not_utc():
    # 19:30 UTC is 11:30 in Los Angeles (UTC-8 in March before DST), lunch there, dinner in UTC.
    at = pd.Series(pd.to_datetime(["2026-03-02T19:30Z"], utc=True))
    assert hour_of_day(at, "America/Los_Angeles").tolist() == [11]
    assert meal_time(at, "America/Los_Angeles").tolist() == ["lunch"]
    assert meal_time(at, "UTC").tolist() == ["dinner"]


def test_day_of_week_crosses_midnight_in_local_zone():
    # Tuesday 03:10 UTC is still Monday evening in Los Angeles.
    at = pd.Series(pd.to_datetime(["2026-03-03T03:10Z"], utc=True))
    assert day_of_week(at, "UTC").tolist() == [1]
    assert day_of_week(at, "America/Los_Angeles").tolist() == [0]


def test_daylight_saving_shift():
    # Berlin is UTC+1 in winter, UTC+2 in summer.
    at = pd.Series(pd.to_datetime(["2026-01-15T10:00Z", "2026-07-15T10:00Z"], utc=True))
    assert hour_of_day(at, "Europe/Berlin").tolist() == [11, 12]


def test_meal_time_boundaries():
    expected = {
        5: "late",
        6: "breakfast",
        10: "breakfast",
        11: "lunch",
        14: "lunch",
        15: "afternoon",
        16: "afternoon",
        17: "dinner",
        21: "dinner",
        22: "late",
        23: "late",
        0: "late",
    }
    got = meal_time_of_hour(list(expected))
    assert dict(zip(expected, got, strict=True)) == expected


@given(st.integers(min_value=0, max_value=23))
def test_every_hour_has_a_meal_time(hour):
    name = meal_time_of_hour([hour])[0]
    assert name in MEAL_TIMES
    assert MEAL_TIMES[meal_time_codes(pd.Series([pd.Timestamp(2026, 1, 1, hour, tz="UTC")]))[0]] == name


def test_missing_timestamps_do_not_crash():
    at = pd.Series(pd.to_datetime(["2026-01-01T08:00Z", None], utc=True))
    feats = time_features(at, "UTC")
    assert feats["hour"].tolist() == [8, -1]
    assert feats["meal_time"].tolist() == ["breakfast", None]
    assert meal_time_codes(at).tolist() == [0, -1]


def test_unknown_timezone_is_an_input_error():
    with pytest.raises(InputError, match="unknown time zone"):
        check_timezone("Mars/Olympus")
    assert check_timezone(None) == "UTC"
