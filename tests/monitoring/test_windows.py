"""Windows are whole local days, the reference ends before the recent one, and per-order inputs are right."""

from __future__ import annotations

import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.monitoring.windows import basket_values, make_windows, order_inputs


def test_default_windows_are_the_last_two_weeks(stable_log: OrderLog) -> None:
    w = make_windows(stable_log, window_days=7)
    assert w.recent_end == pd.Timestamp("2026-02-09", tz="UTC")  # the day after the last order
    assert w.recent_start - w.reference_end == pd.Timedelta(0)
    assert w.reference_end - w.reference_start == pd.Timedelta(days=7)
    assert w.to_dict()["recent_start"] == "2026-02-02T00:00:00Z"


def test_reference_until_and_until_place_the_windows(stable_log: OrderLog) -> None:
    w = make_windows(stable_log, window_days=5, reference_until="2026-01-20", until="2026-02-01")
    assert (w.reference_start, w.reference_end) == (
        pd.Timestamp("2026-01-15", tz="UTC"),
        pd.Timestamp("2026-01-20", tz="UTC"),
    )
    assert (w.recent_start, w.recent_end) == (
        pd.Timestamp("2026-01-27", tz="UTC"),
        pd.Timestamp("2026-02-01", tz="UTC"),
    )


def test_windows_follow_the_local_time_zone() -> None:
    at = pd.to_datetime(["2026-03-01T20:00Z", "2026-03-10T06:30Z"], utc=True)  # = 9 Mar 23:30 in LA (PDT)
    log = OrderLog(pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": "c", "ordered_at": at, "area": "a",
                                 "restaurant_id": "r"}), timezone="America/Los_Angeles")  # fmt: skip
    w = make_windows(log, window_days=2)
    assert w.recent_end == pd.Timestamp("2026-03-10T07:00Z")  # local midnight, daylight saving time
    # whole local days across the switch to daylight saving time on 8 March (a 23-hour day)
    assert w.recent_start == pd.Timestamp("2026-03-08T08:00Z")  # local midnight, still standard time
    assert w.recent_end - w.recent_start == pd.Timedelta(hours=47)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_days": 0}, "--window-days"),
        ({"reference_until": "2026-02-05"}, "must end before the recent window"),
        ({"reference_until": "2026-01-06"}, "too late for a 7-day reference window"),
        ({"reference_until": "yesterday-ish"}, "not a timestamp"),
    ],
)
def test_impossible_windows_are_user_errors(stable_log: OrderLog, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_windows(stable_log, **kwargs)


def test_order_inputs_one_row_per_order_with_cuisine_and_meal_time(stable_log: OrderLog) -> None:
    day = stable_log.between("2026-01-05", "2026-01-06")
    inputs = order_inputs(day)
    assert len(inputs) == day.orders["order_id"].nunique()
    assert set(inputs["cuisine"]) <= {"pizza", "sushi", "burger", "thai"}
    assert set(inputs["meal_time"]) == {"lunch", "dinner"}
    assert inputs["at"].is_monotonic_increasing


def test_basket_value_sums_lines_when_there_is_no_order_total() -> None:
    lines = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "unit_price": [10.0, 5.0, 7.0], "quantity": [1, 2, None]})
    assert basket_values(lines).to_dict() == {"o1": 20.0, "o2": 7.0}
    with_total = lines.assign(order_total=[30.0, 30.0, 7.5])
    assert basket_values(with_total).to_dict() == {"o1": 30.0, "o2": 7.5}
    assert basket_values(lines[["order_id"]]).isna().all()
