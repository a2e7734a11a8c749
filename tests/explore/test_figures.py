"""The EDA figures against hand-computed values on tiny logs, and robustness on arbitrary logs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.errors import InputError
from foodrec.explore.figures import compute_figures, customers, prepare

TZ = "America/Los_Angeles"


def hand_log() -> pd.DataFrame:
    """Five orders, six lines. Local (Los Angeles) times: o1 Mon 11:00, o2 Mon 19:00 (Tue 03:00 UTC), o3 Tue 11:30,
    o4 Wed 12:00, o5 Wed 18:00 (Thu 02:00 UTC)."""
    rows = [
        # order, customer, ordered_at (UTC), area, restaurant, item, price, total, discount, refunded
        ("o1", "c1", "2026-03-02T19:00Z", "a1", "r1", "i1", 10.0, 15.0, 0.0, 0.0),
        ("o1", "c1", "2026-03-02T19:00Z", "a1", "r1", "i2", 5.0, 15.0, 0.0, 0.0),
        ("o2", "c1", "2026-03-03T03:00Z", "a1", "r1", "i1", 10.0, 10.0, 0.0, 10.0),
        ("o3", "c2", "2026-03-03T19:30Z", "a2", "r2", "i3", 20.0, 20.0, 2.0, 0.0),
        ("o4", "c2", "2026-03-04T20:00Z", None, "r1", "i1", 10.0, 10.0, 0.0, 0.0),
        ("o5", "c3", "2026-03-05T02:00Z", "a2", "r1", "i1", 1000.0, 1000.0, 0.0, 0.0),
    ]
    cols = [
        "order_id",
        "customer_id",
        "ordered_at",
        "area",
        "restaurant_id",
        "item_id",
        "unit_price",
        "order_total",
        "discount",
        "refunded_amount",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    frame["quantity"] = 1
    return frame


REQUIRED = ["order_id", "customer_id", "ordered_at", "area", "restaurant_id"]


@pytest.fixture(scope="module")
def figs() -> dict:
    return compute_figures(hand_log(), timezone=TZ)


def test_overview_counts(figs):
    ov = figs["overview"]
    assert (ov["lines"], ov["orders"], ov["customers"], ov["restaurants"], ov["items"]) == (6, 5, 3, 2, 3)
    assert ov["timezone"] == TZ and ov["level"] == "dish"
    assert ov["days"] == 3  # local days Mar 2, 3, 4 (four distinct UTC days)
    assert "driver_id" in ov["optional_columns_absent"]
    assert ov["sample"][0]["order_id"] == "o1" and ov["sample"][0]["ordered_at"] == "2026-03-02T11:00:00-08:00"


def test_volume_is_in_local_time(figs):
    vol = figs["volume"]
    assert [d["orders"] for d in vol["per_day"]] == [2, 1, 2]
    assert vol["per_day"][0]["date"] == "2026-03-02"
    local = vol["per_hour_local"]
    assert local[11] == 2 and local[12] == 1 and local[18] == 1 and local[19] == 1 and sum(local) == 5
    utc = vol["per_hour_utc"]
    assert utc[19] == 2 and utc[3] == 1 and utc[20] == 1 and utc[2] == 1
    assert vol["hour_peaks_local"][0] == 11
    meals = {m["meal_time"]: m["orders"] for m in vol["per_meal_time"]}
    assert meals == {"breakfast": 0, "lunch": 3, "afternoon": 0, "dinner": 2, "late": 0}
    monday = vol["per_weekday"][0]
    assert (monday["orders"], monday["days"], monday["mean_per_day"]) == (2, 1, 2.0)


def test_areas_and_multi_area_restaurants(figs):
    ar = figs["areas"]
    assert ar["missing_area_orders"] == 1 and ar["missing_area_share"] == pytest.approx(0.2)
    assert ar["restaurants_multi_area"] == 1  # r1 delivers to a1 and a2
    assert {r["area"]: r["orders"] for r in ar["per_area"]} == {"a1": 2, "a2": 2}


def test_popularity_top_shares(figs):
    pop = figs["popularity"]
    assert pop["restaurants"]["top"][0] == {"restaurant_id": "r1", "orders": 4, "share": 0.8}
    assert pop["restaurants"]["top10_share"] == 1.0
    assert pop["dishes"]["top"][0]["item_id"] == "i1" and pop["dishes"]["top"][0]["lines"] == 4
    assert pop["dishes"]["distinct"] == 3


def test_customer_activity(figs):
    cu = figs["customers"]
    opc = cu["orders_per_customer"]
    assert (opc["median"], opc["max"]) == (2.0, 2)
    assert cu["share_customers_2plus"] == pytest.approx(2 / 3)
    assert cu["distribution"] == [{"orders": 1, "customers": 1}, {"orders": 2, "customers": 2}]
    assert cu["max_orders_one_day"] == 2  # c1 twice on local Monday


def test_same_item_many_times_a_day_uses_local_days():
    p = prepare(hand_log(), TZ)
    flagged = customers(p, same_item_per_day=2)["same_item_per_day"]
    # c1 had i1 at 11:00 and 19:00 local on Mar 2 (two different UTC days).
    assert flagged["top"] == [{"customer_id": "c1", "item_id": "i1", "date": "2026-03-02", "orders_that_day": 2}]
    assert flagged["customers"] == 1 and flagged["flagged"][0]["customer_id"] == "c1"
    assert flagged["flagged"][0]["customer_orders"] == 2 and flagged["orders_share"] == pytest.approx(0.4)
    assert customers(p)["same_item_per_day"]["customers"] == 0  # one day with 2 is not an outlier by default
    in_utc = customers(prepare(hand_log(), "UTC"), same_item_per_day=2)["same_item_per_day"]
    assert in_utc["customer_days"] == 0


def test_drink_spammer_flagged_by_repeat_days():
    base = pd.Timestamp("2026-03-02T17:00Z")
    rows = [
        (f"s{d}{k}", "spam", base + pd.Timedelta(days=d, hours=k), "a", "r1", "drink")
        for d in range(3)
        for k in range(2)
    ]
    rows += [(f"n{d}", "normal", base + pd.Timedelta(days=d), "a", "r1", "drink") for d in range(6)]
    log = pd.DataFrame(rows, columns=REQUIRED + ["item_id"])
    same = customers(prepare(log, "UTC"))["same_item_per_day"]
    assert same["customers"] == 1 and same["customer_days"] == 3
    assert same["flagged"][0] == {
        "customer_id": "spam",
        "item_id": "drink",
        "days": 3,
        "max_per_day": 2,
        "orders_on_those_days": 6,
        "customer_orders": 6,
    }


def test_repeat_shares(figs):
    rep = figs["repeat"]
    assert rep["returning_orders"] == 2  # o2 (c1) and o4 (c2)
    assert rep["restaurant_repeat_share"] == 0.5  # o2 repeats r1; o4 is c2's first r1 order
    assert rep["dish_repeat_share"] == 0.5  # o2 repeats i1; o4's i1 is new for c2
    assert rep["first_order_share"] == pytest.approx(0.6)


def test_money_refunds_discounts_outliers(figs):
    money = figs["money"]
    assert money["total_source"] == "order_total (per order)"  # 15 repeated on both lines of o1, not 30
    tot = money["totals"]
    assert tot["p50"] == 15.0 and tot["max"] == 1000.0
    assert tot["outliers"] == 1 and tot["outliers_top"][0]["order_id"] == "o5"
    assert money["refunds"]["refund_rate"] == pytest.approx(0.2)
    assert money["refunds"]["full_refunds"] == 1
    assert money["discounts"]["discount_rate"] == pytest.approx(0.2)
    assert money["discounts"]["median_discount"] == 2.0


def test_missing_values_per_column(figs):
    per = {r["column"]: r for r in figs["missing"]["per_column"]}
    assert per["area"]["missing"] == 1 and per["area"]["required"]
    assert per["item_id"]["missing"] == 0


def test_timestamps_resolution(figs):
    ts = figs["timestamps"]
    assert ts["resolution"] == "minute"  # 19:30 has minutes, none has seconds
    assert ts["share_on_whole_hour"] == pytest.approx(0.8)
    assert ts["longest_gaps"][0]["hours"] == pytest.approx(24.5)  # o3 (Mar 3 19:30Z) to o4 (Mar 4 20:00Z)


def test_required_columns_only_says_what_is_missing():
    figs = compute_figures(hand_log()[REQUIRED], timezone=TZ)
    assert figs["money"]["available"] is False and "order_total" in figs["money"]["reason"]
    assert figs["drivers"]["available"] is False and "driver_id" in figs["drivers"]["reason"]
    assert figs["popularity"]["dishes"]["available"] is False
    assert figs["repeat"]["dish_repeat_share"] is None
    assert figs["repeat"]["restaurant_repeat_share"] == 0.5
    assert figs["overview"]["level"] == "restaurant"
    # at restaurant level the same-thing-many-times check counts restaurants: c1 had r1 twice on local Mar 2
    assert figs["customers"]["same_item_per_day"]["unit"] == "restaurant"


def test_total_from_lines_when_no_order_total():
    log = hand_log().drop(columns=["order_total"])
    figs = compute_figures(log, timezone=TZ)
    assert "unit_price" in figs["money"]["total_source"]
    assert figs["money"]["totals"]["p50"] == 15.0  # o1 = 10 + 5


def test_driver_effect_is_detected():
    rng = np.random.default_rng(0)
    n = 600
    drivers = np.array([f"d{i % 6}" for i in range(n)])
    refunded = np.where(drivers == "d5", rng.random(n) < 0.5, rng.random(n) < 0.02)
    log = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": [f"c{i % 50}" for i in range(n)],
            "ordered_at": pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 600, unit="s"),
            "area": "a",
            "restaurant_id": [f"r{i % 7}" for i in range(n)],
            "order_total": 20.0 + (drivers == "d5") * 30,
            "refunded_amount": refunded * 5.0,
            "driver_id": drivers,
        }
    )
    dr = compute_figures(log)["drivers"]
    assert dr["available"] and dr["drivers"] == 6 and dr["drivers_compared"] == 6
    assert dr["refunds"]["p_value_chi2"] < 0.01
    assert dr["refunds"]["worst"][0]["driver_id"] == "d5" and dr["refunds"]["drivers_z_over_3"] == 1
    assert dr["totals"]["p_value_kruskal"] < 0.01 and dr["totals"]["highest"][0]["driver_id"] == "d5"


def test_bad_inputs_raise_input_error():
    with pytest.raises(InputError, match="customer_id"):
        compute_figures(hand_log().drop(columns=["customer_id"]))
    with pytest.raises(InputError, match="empty"):
        compute_figures(hand_log().iloc[:0])
    with pytest.raises(InputError, match="time zone"):
        compute_figures(hand_log(), timezone="Mars/Olympus")


def test_same_data_same_numbers():
    a = json.dumps(compute_figures(hand_log(), timezone=TZ), sort_keys=True)
    b = json.dumps(compute_figures(hand_log().sample(frac=1, random_state=1), timezone=TZ), sort_keys=True)
    assert a == b


ids = st.sampled_from(["a", "b", "c", "d"])
money = st.one_of(st.none(), st.floats(-5, 1e5, allow_nan=False))


@st.composite
def logs(draw):
    n = draw(st.integers(1, 25))
    rows = []
    for _ in range(n):
        rows.append(
            {
                "order_id": draw(st.sampled_from([f"o{i}" for i in range(8)])),
                "customer_id": draw(ids),
                "restaurant_id": draw(ids),
                "area": draw(st.one_of(st.none(), ids)),
                "ordered_at": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(seconds=draw(st.integers(0, 10**7))),
                "item_id": draw(st.one_of(st.none(), ids)),
                "order_total": draw(money),
                "refunded_amount": draw(money),
                "discount": draw(money),
                "driver_id": draw(st.one_of(st.none(), ids)),
            }
        )
    frame = pd.DataFrame(rows)
    keep = draw(st.sets(st.sampled_from(["item_id", "order_total", "refunded_amount", "discount", "driver_id"])))
    return frame[REQUIRED + sorted(keep)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.sampled_from(["UTC", TZ, "Asia/Kolkata"]))
def test_any_small_log_gives_json_figures(log, tz):
    figs = compute_figures(log, timezone=tz)
    text = json.dumps(figs, allow_nan=False)
    assert json.loads(text)["overview"]["orders"] == log["order_id"].nunique()
