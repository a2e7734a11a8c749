"""OrderLog: cutting by time and choosing the ranking level."""

import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog, to_utc_timestamp
from foodrec.errors import InputError


def _log(with_items: bool) -> OrderLog:
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "customer_id": ["c1", "c2", "c1"],
            "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 19:00", "2026-01-03 08:00"], utc=True),
            "area": ["a", "b", "a"],
            "restaurant_id": ["r1", "r2", "r1"],
        }
    )
    if with_items:
        orders["item_id"] = ["i1", "i2", None]
    return OrderLog(orders)


def test_before_is_strict_and_between_is_half_open():
    log = _log(True)
    assert log.before("2026-01-02 19:00").orders["order_id"].tolist() == ["o1"]
    assert log.between("2026-01-02 19:00", "2026-01-03 08:00").orders["order_id"].tolist() == ["o2"]


def test_cutoff_with_zone_is_converted_to_utc():
    assert to_utc_timestamp("2026-01-02T20:00+01:00") == pd.Timestamp("2026-01-02 19:00", tz="UTC")


@pytest.mark.parametrize("bad", ["yesterday-ish", "2026-13-45", ""])
def test_bad_cutoff_is_an_input_error(bad):
    with pytest.raises(InputError):
        to_utc_timestamp(bad)


def test_level_defaults_to_dish_only_when_items_exist():
    assert _log(True).default_level == "dish"
    assert _log(False).default_level == "restaurant"
    with pytest.raises(InputError, match="--level restaurant"):
        _log(False).resolve_level("dish")
    with pytest.raises(InputError, match="unknown level"):
        _log(True).resolve_level("cuisine")
