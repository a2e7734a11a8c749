"""Drift windows without --window-days come from the log: the days after a model's cutoff against as many before
it, so `foodrec train` then `foodrec drift` with defaults works on logs from two weeks to two years."""

from __future__ import annotations

import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.evaluation.split import default_cutoff
from foodrec.monitoring.windows import default_window_days, make_windows


def daily_log(days: int, start: str = "2015-01-01", timezone: str = "UTC") -> OrderLog:
    at = pd.date_range(start, periods=days * 3, freq="8h", tz="UTC") + pd.Timedelta(hours=2)
    orders = pd.DataFrame({"order_id": [f"o{i}" for i in range(len(at))], "customer_id": "c", "ordered_at": at,
                           "area": "a", "restaurant_id": "r"})  # fmt: skip
    return OrderLog(orders, timezone=timezone)


@pytest.mark.parametrize(("days", "window"), [(14, 3), (31, 6), (56, 7), (120, 21), (730, 140)])
def test_a_model_is_checked_on_the_days_after_its_default_cutoff(days: int, window: int) -> None:
    log = daily_log(days)
    cutoff = default_cutoff(log)  # what `foodrec train` uses without --until
    assert default_window_days(log, reference_until=cutoff) == window
    w = make_windows(log, window, reference_until=cutoff)  # the error of issue 17 on a 31-day log is gone
    assert w.reference_end == cutoff and w.recent_start >= cutoff
    assert w.reference_end - w.reference_start == w.recent_end - w.recent_start == pd.Timedelta(days=window)


def test_the_issue_log_31_days_to_2015_01_31() -> None:
    log = daily_log(31)
    cutoff = default_cutoff(log)
    assert str(cutoff.date()) == "2015-01-26"
    with pytest.raises(InputError, match="reference window must end before"):
        make_windows(log, 7, reference_until=cutoff)  # the old fixed 7 days
    w = make_windows(log, default_window_days(log, reference_until=cutoff), reference_until=cutoff)
    assert (str(w.recent_start.date()), str(w.recent_end.date())) == ("2015-01-26", "2015-02-01")


@pytest.mark.parametrize(("days", "window"), [(3, 1), (14, 4), (21, 7), (400, 7)])
def test_a_baseline_gets_a_week_or_a_third_of_a_short_log(days: int, window: int) -> None:
    log = daily_log(days)
    assert default_window_days(log) == window
    w = make_windows(log, window)
    assert w.reference_start >= log.start.floor("D")  # history before the reference window is left to fit on


def test_too_short_says_what_it_needs() -> None:
    with pytest.raises(InputError, match="needs at least 3"):
        default_window_days(daily_log(2))
    log = daily_log(10)
    with pytest.raises(InputError, match="no whole day after the cutoff"):
        default_window_days(log, reference_until="2015-01-10T12:00")
    with pytest.raises(InputError, match="no whole day before the cutoff"):
        default_window_days(log, reference_until="2015-01-01T12:00")


def test_windows_are_whole_local_days() -> None:
    log = daily_log(31, timezone="America/Los_Angeles")
    cutoff = default_cutoff(log)
    days = default_window_days(log, reference_until=cutoff)
    w = make_windows(log, days, reference_until=cutoff)
    assert w.recent_start.tz_convert("America/Los_Angeles").hour == 0
    assert w.reference_start.tz_convert("America/Los_Angeles").hour == 0
