"""The realism twin (``foodrec generate --preset twin``) lands on the figures of the real log in
``/shared/realism.md``; each check states its tolerance, the real figure is in the comment (docs/synthetic.md
has the table). One twin (seed 42, ~18k orders, about 2 s) is generated for the module."""

from __future__ import annotations

import pandas as pd
import pytest

from foodrec.data.synthetic.generate import generate_city
from foodrec.data.synthetic.presets import preset_config

TZ = "America/Los_Angeles"


@pytest.fixture(scope="module")
def orders(tmp_path_factory):
    out = tmp_path_factory.mktemp("twin")
    generate_city(preset_config("twin"), out)
    lines = pd.read_csv(out / "orders.csv", dtype=str)
    assert "item_id" not in lines.columns  # restaurant level: one row per order
    lines["t"] = pd.to_datetime(lines["ordered_at"], utc=True, errors="coerce", format="ISO8601")
    return lines.dropna(subset=["t"]).drop_duplicates("order_id").sort_values("t").reset_index(drop=True)


def test_size_is_the_real_logs(orders):
    local = orders["t"].dt.tz_convert(TZ)
    assert local.dt.date.nunique() == 31  # real: 31 days
    assert 16_000 <= len(orders) <= 20_000  # real: 18,079 orders
    assert 6_000 <= orders["customer_id"].nunique() <= 7_500  # real: 6,701 customers
    assert 290 <= orders["restaurant_id"].nunique() <= 314  # real: 314 restaurants


def test_orders_per_customer(orders):
    per = orders.groupby("customer_id").size()
    assert per.median() == 1  # real: 1
    assert 5 <= per.quantile(0.9) <= 7  # real: 6
    assert 13 <= per.quantile(0.99) <= 21  # real: 16
    assert per.max() >= 40  # real: 66
    assert 0.44 <= (per >= 2).mean() <= 0.54  # real: 49%


def test_restaurant_repeat_share(orders):
    returning = orders.duplicated("customer_id")
    repeat = orders.duplicated(["customer_id", "restaurant_id"])
    assert 0.33 <= repeat[returning].mean() <= 0.44  # real: 38%


def test_concentration(orders):
    counts = orders["restaurant_id"].value_counts()
    assert 0.20 <= counts.iloc[:10].sum() / len(orders) <= 0.34  # real: 27%
    assert 0.52 <= counts.iloc[:50].sum() / len(orders) <= 0.70  # real: 62%


def test_three_regions_a_third_of_restaurants_in_more_than_one(orders):
    assert orders["area"].dropna().nunique() == 3  # real: 3 regions (+ missing)
    regions = orders.dropna(subset=["area"]).groupby("restaurant_id")["area"].nunique()
    assert 0.25 <= (regions > 1).sum() / orders["restaurant_id"].nunique() <= 0.42  # real: 101 of 314 (32%)
    assert 0.0005 <= orders["area"].isna().mean() <= 0.006  # real: 0.14%


def test_two_meal_peaks_and_flat_days(orders):
    share = orders["t"].dt.hour.value_counts(normalize=True).reindex(range(24), fill_value=0)
    assert share[range(5, 16)].sum() < 0.08  # real: almost nothing 05-15 UTC
    assert share[range(16, 24)].idxmax() in (18, 19, 20)  # lunch peak 18-20 UTC
    assert share[range(0, 8)].idxmax() in (0, 1, 2, 3)  # dinner peak 00-03 UTC
    per_day = orders.groupby(orders["t"].dt.tz_convert(TZ).dt.date).size().iloc[1:-1]
    assert per_day.min() >= 400 and per_day.max() <= 800 and per_day.max() / per_day.min() < 1.8  # real: 470-720
