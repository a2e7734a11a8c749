"""The default city lands near the shapes of a real delivery log (``/shared/realism.md``, docs/synthetic.md).

Each check states its tolerance; the real figure is in the comment. One default city (~27k orders) is
generated once for the module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foodrec.data.synthetic.generate import generate_city
from foodrec.data.synthetic.presets import preset_config

TZ = "America/Los_Angeles"


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    out = tmp_path_factory.mktemp("default")
    generate_city(preset_config("default"), out)
    lines = pd.read_csv(out / "orders.csv", dtype=str)
    lines["t"] = pd.to_datetime(lines["ordered_at"], utc=True, errors="coerce", format="ISO8601")
    lines = lines.dropna(subset=["t"]).drop_duplicates()
    for col in ("order_total", "discount", "refunded_amount"):
        lines[col] = lines[col].astype(float)
    orders = lines.drop_duplicates("order_id").sort_values("t").reset_index(drop=True)
    start = orders["t"].min().tz_convert(TZ).normalize()
    month = orders[(orders.t >= start + pd.Timedelta(days=14)) & (orders.t < start + pd.Timedelta(days=45))]
    return lines, orders, month


def test_size_fits_the_default_workflow(log):
    lines, orders, _ = log
    assert 25_000 <= len(orders) <= 40_000
    assert lines["item_id"].nunique() >= 2_000 and lines["restaurant_id"].nunique() >= 250


def test_orders_per_customer_in_a_month_are_heavy_tailed(log):
    _, _, month = log
    per = month.groupby("customer_id").size()
    assert 1 <= per.median() <= 2  # real: 1
    assert 4 <= per.quantile(0.9) <= 8  # real: 6
    assert 10 <= per.quantile(0.99) <= 24  # real: 16
    assert per.max() >= 40  # real: 66 (one customer)
    assert 0.40 <= (per >= 2).mean() <= 0.60  # real: 49%


def test_returning_customers_repeat_restaurants(log):
    _, _, month = log
    month = month.sort_values("t")
    returning = month.duplicated("customer_id")
    repeat = month.duplicated(["customer_id", "restaurant_id"])
    assert 0.30 <= repeat[returning].mean() <= 0.50  # real: 38%


def test_popularity_is_concentrated(log):
    _, _, month = log
    counts = month["restaurant_id"].value_counts()
    assert 0.18 <= counts.iloc[:10].sum() / len(month) <= 0.36  # real: 27%
    assert 0.50 <= counts.iloc[:50].sum() / len(month) <= 0.75  # real: 62%


def test_orders_per_day_are_flat_with_a_weekly_rhythm(log):
    _, orders, _ = log
    local = orders["t"].dt.tz_convert(TZ)
    per_day = orders.groupby(local.dt.date).size().iloc[1:-1]
    assert per_day.max() / per_day.min() < 2.0  # real: 470-720
    by_dow = orders.groupby(local.dt.day_of_week).size()
    assert by_dow[[4, 5]].mean() > by_dow[[0, 1]].mean() * 1.05  # Friday/Saturday busier than Monday/Tuesday


def test_hour_of_day_has_lunch_and_dinner_peaks_in_utc(log):
    _, orders, _ = log
    share = orders["t"].dt.hour.value_counts(normalize=True).reindex(range(24), fill_value=0)
    assert share[range(5, 16)].sum() < 0.08  # real: almost nothing 05-15 UTC
    assert share[range(16, 24)].idxmax() in (18, 19, 20)  # lunch peak 18-20 UTC
    assert share[range(0, 8)].idxmax() in (0, 1, 2, 3)  # dinner peak 00-03 UTC
    assert share[[18, 19, 20]].sum() > 0.2 and share[[0, 1, 2, 3]].sum() > 0.35


def test_money_refunds_discounts_and_missing_areas(log):
    _, orders, _ = log
    assert 0.02 <= (orders["refunded_amount"] > 0).mean() <= 0.04  # real: 2.7%
    assert 0.12 <= (orders["discount"] > 0).mean() <= 0.18  # real: 15%
    assert 0.001 <= orders["area"].isna().mean() <= 0.005  # real: 0.14%
    total = orders["order_total"]
    assert 30 <= total.median() <= 48  # real: 38.6
    assert 1.3 <= total.quantile(0.75) / total.median() <= 1.7  # real: 57.9 / 38.6 = 1.5
    assert total.max() > 500  # real: 1,604 (outliers)


def test_simple_recommenders_rank_as_on_real_data(log):
    """Restaurant level, train on the first 80% of time, test returning customers (real NDCG@10: global
    popularity 0.14 < area popularity 0.20 < own past restaurants then area popularity 0.40)."""
    _, orders, _ = log
    cut = orders["t"].min() + (orders["t"].max() - orders["t"].min()) * 0.8
    train, test = orders[orders.t < cut], orders[orders.t >= cut]
    test = test[test.customer_id.isin(set(train.customer_id)) & test.area.notna()]
    glob = train["restaurant_id"].value_counts().index[:10].tolist()
    area_pop = _top_per(train, "area", 20)
    own = _top_per(train, "customer_id", 10)

    def ndcg(rankings: list[list[str]]) -> float:
        gains = []
        for ranking, target in zip(rankings, test["restaurant_id"], strict=True):
            top = ranking[:10]
            gains.append(1 / np.log2(top.index(target) + 2) if target in top else 0.0)
        return float(np.mean(gains))

    n_glob = ndcg([glob] * len(test))
    n_area = ndcg([area_pop.get(a, glob) for a in test["area"]])
    n_own = ndcg([list(dict.fromkeys(own[c] + area_pop.get(a, glob))) for c, a in zip(test.customer_id, test.area,
                                                                                       strict=True)])  # fmt: skip
    assert 0.08 <= n_glob <= 0.22
    assert n_glob < n_area <= 0.35
    assert n_own >= 1.3 * n_area and 0.30 <= n_own <= 0.55


def _top_per(frame: pd.DataFrame, key: str, k: int) -> dict[str, list[str]]:
    """The k most ordered restaurants per value of ``key`` (ties by id), as lists."""
    counts = frame.groupby([key, "restaurant_id"]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", "restaurant_id"], ascending=[True, False, True])
    return counts.groupby(key)["restaurant_id"].agg(lambda s: s.iloc[:k].tolist()).to_dict()
