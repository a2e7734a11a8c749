"""The non-ML baselines behind the Recommender interface: ranking, fallbacks, persistence, the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.recommenders.base import load_recommender, make_queries
from foodrec.recommenders.baselines import BASELINES, PopularityBaseline
from foodrec.recommenders.registry import make_recommender, resolve_recommender

LEARNED = [name for name in BASELINES if name != "oracle"]


def orders_frame(rows):
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "area", "restaurant_id", "item_id"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return frame


@pytest.fixture
def small_log() -> OrderLog:
    """north loves r1 (at lunch) and r2 (at dinner); south loves r3; c1 is a regular of r4 (a rare one)."""
    rows = []
    n = 0
    for day in range(1, 8):
        for hour, rest, area in [
            (12, "r1", "north"),
            (12, "r1", "north"),
            (19, "r2", "north"),
            (13, "r3", "south"),
            (20, "r3", "south"),
            (12, "r5", "south"),
        ]:
            rows.append((f"o{n}", f"x{n}", f"2026-01-0{day}T{hour}:00Z", area, rest, f"{rest}-d1"))
            n += 1
    for day in (2, 5, 6):
        rows.append((f"o{n}", "c1", f"2026-01-0{day}T19:00Z", "north", "r4", "r4-d1"))
        rows.append((f"o{n}", "c1", f"2026-01-0{day}T19:00Z", "north", "r4", "r4-d2"))
        n += 1
    return OrderLog(orders_frame(rows), timezone="UTC")


def q(customers, areas, at="2026-01-09T12:30Z"):
    return make_queries(customers, areas, [at] * len(customers))


def test_registry_names_and_one_class_with_strategies():
    assert set(BASELINES) == {
        "global-popularity",
        "area-popularity",
        "area-mealtime-popularity",
        "customer-history",
        "item-cooccurrence",
        "oracle",
    }
    assert all(issubclass(BASELINES[n], PopularityBaseline) for n in LEARNED)
    assert make_recommender("area-popularity").strategy == "area"
    with pytest.raises(InputError, match="unknown recommender"):
        make_recommender("most-popular")
    with pytest.raises(InputError, match="strategy"):
        PopularityBaseline(strategy="random")


def test_global_popularity(small_log):
    ranking = (
        make_recommender("global-popularity", level="restaurant")
        .fit(small_log)
        .recommend(q(["a", "b"], ["north", None]), 2)
    )
    assert ranking.items.tolist() == [["r1", "r3"], ["r1", "r3"]]
    assert (np.diff(ranking.scores, axis=1) <= 0).all()


def test_area_popularity_is_the_neighbourhood_and_falls_back(small_log):
    rec = make_recommender("area-popularity", level="restaurant").fit(small_log)
    items = rec.recommend(q(["a", "a", "a"], ["south", "atlantis", None]), 2).items.tolist()
    assert items[0] == ["r3", "r5"]
    assert items[1] == items[2] == ["r1", "r3"]  # unknown and missing area: global popularity


def test_area_mealtime_popularity_uses_the_local_clock(small_log):
    rec = make_recommender("area-mealtime-popularity", level="restaurant").fit(small_log)
    lunch = rec.recommend(q(["a"], ["north"], "2026-01-09T12:30Z"), 1).items[0, 0]
    dinner = rec.recommend(q(["a"], ["north"], "2026-01-09T19:30Z"), 1).items[0, 0]
    assert (lunch, dinner) == ("r1", "r2")
    berlin = OrderLog(small_log.orders, timezone="Europe/Berlin")  # same UTC data, local clock one hour ahead
    rec = make_recommender("area-mealtime-popularity", level="restaurant").fit(berlin)
    # 16:30 UTC is 17:30 in Berlin: dinner there (r2 was ordered at 20:00 local), afternoon in UTC.
    assert rec.recommend(q(["a"], ["north"], "2026-01-09T16:30Z"), 1).items[0, 0] == "r2"


def test_customer_history_first_then_area(small_log):
    rec = make_recommender("customer-history").fit(small_log)
    assert rec.level == "dish"
    items = rec.recommend(q(["c1", "stranger"], ["north", "north"]), 3).items.tolist()
    assert items[0][:2] == ["r4-d1", "r4-d2"] and items[0][2] == "r1-d1"
    assert items[1][0] == "r1-d1"


def test_cooccurrence_suggests_what_similar_customers_ordered():
    rows = [
        ("o1", "a", "2026-01-01T12:00Z", "z", "r1", "d1"),
        ("o2", "a", "2026-01-01T13:00Z", "z", "r2", "d2"),
        ("o3", "b", "2026-01-01T12:00Z", "z", "r1", "d1"),
        ("o4", "b", "2026-01-02T12:00Z", "z", "r2", "d2"),
        ("o5", "c", "2026-01-02T12:00Z", "z", "r3", "d3"),
        ("o6", "d", "2026-01-02T12:00Z", "z", "r3", "d3"),
        ("o7", "e", "2026-01-02T12:00Z", "z", "r3", "d3"),
        ("o8", "f", "2026-01-02T12:00Z", "z", "r1", "d1"),
    ]
    rec = make_recommender("item-cooccurrence").fit(OrderLog(orders_frame(rows)))
    # f only had d1; people who had d1 also had d2, so d2 comes before the more popular d3.
    assert rec.recommend(q(["f"], ["z"]), 3).items.tolist() == [["d1", "d2", "d3"]]


@pytest.mark.parametrize("name", LEARNED)
def test_every_baseline_answers_every_query(small_log, name):
    rec = make_recommender(name).fit(small_log)
    queries = q(["c1", "unknown", None], ["north", "nowhere", None])
    ranking = rec.recommend(queries, 4)
    assert ranking.items.shape == (3, 4)
    assert all(item is not None for item in ranking.items.ravel())
    assert all(len(set(row)) == 4 for row in ranking.items.tolist())  # no duplicates in a list
    assert (np.diff(ranking.scores, axis=1) <= 1e-12).all()
    frame = ranking.to_frame()
    assert frame.columns.tolist() == ["query_id", "rank", "item_id", "score"]


@pytest.mark.parametrize("name", LEARNED)
def test_k_larger_than_the_catalogue_pads(small_log, name):
    rec = make_recommender(name, level="restaurant").fit(small_log)
    ranking = rec.recommend(q(["c1"], ["north"]), 8)
    assert ranking.items[0, :5].tolist().count(None) == 0
    assert ranking.items[0, 5:].tolist() == [None] * 3
    assert np.isneginf(ranking.scores[0, 5:]).all()
    assert len(ranking.to_frame()) == 5


@pytest.mark.parametrize("name", LEARNED)
def test_save_and_load_give_the_same_ranking(small_log, name, tmp_path):
    rec = make_recommender(name).fit(small_log)
    queries = q(["c1", "x0", "new"], ["north", "south", None])
    rec.save(tmp_path / name, extra={"cutoff": "2026-01-08T00:00:00+00:00"})
    assert not list(tmp_path.glob(f"{name}/*.pkl"))
    loaded = load_recommender(tmp_path / name)
    assert type(loaded) is type(rec) and loaded.level == rec.level
    a, b = rec.recommend(queries, 5), loaded.recommend(queries, 5)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    assert resolve_recommender(str(tmp_path / name)).name == name


def test_same_data_same_ranking(small_log):
    queries = q(["c1", "x1", "x9"], ["north", "south", "north"])
    a = make_recommender("area-mealtime-popularity").fit(small_log).recommend(queries, 5)
    b = make_recommender("area-mealtime-popularity").fit(small_log).recommend(queries, 5)
    np.testing.assert_array_equal(a.items, b.items)


def test_dish_level_needs_items(small_log):
    no_items = OrderLog(small_log.orders.drop(columns="item_id"))
    rec = make_recommender("area-popularity").fit(no_items)
    assert rec.level == "restaurant"
    with pytest.raises(InputError, match="item_id"):
        make_recommender("area-popularity", level="dish").fit(no_items)


def test_unfitted_and_bad_queries_are_input_errors(small_log):
    with pytest.raises(InputError, match="not fitted"):
        make_recommender("global-popularity").recommend(q(["a"], ["b"]), 3)
    rec = make_recommender("global-popularity").fit(small_log)
    with pytest.raises(InputError, match="lack column"):
        rec.recommend(pd.DataFrame({"customer_id": ["a"]}), 3)
    with pytest.raises(InputError, match="k must be"):
        rec.recommend(q(["a"], ["b"]), 0)


def test_oracle_on_real_data_is_a_clear_error(small_log, tmp_path):
    with pytest.raises(InputError, match="ground truth"):
        make_recommender("oracle").fit(small_log)
    from dataclasses import replace

    with pytest.raises(InputError, match="ground truth"):
        make_recommender("oracle").fit(replace(small_log, source=tmp_path))


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    from foodrec.cli import main

    root = tmp_path_factory.mktemp("city")
    if (
        main(
            [
                "generate",
                "--out",
                str(root / "city"),
                "--preset",
                "small",
                "--customers",
                "300",
                "--days",
                "14",
                "--restaurants",
                "20",
            ]
        )
        != 0
    ):
        pytest.skip("foodrec generate failed: no synthetic city to test the oracle on")
    assert main(["ingest", str(root / "city"), "--store", str(root / "store")]) == 0
    return root / "store"


def test_oracle_ranks_by_ground_truth_and_is_the_ceiling(synthetic_store, tmp_path):
    from foodrec.data.store import Store
    from foodrec.evaluation.cases import make_test_cases
    from foodrec.evaluation.evaluate import evaluate_recommender
    from foodrec.evaluation.split import temporal_split

    split = temporal_split(Store.open(synthetic_store).order_log())
    cases = make_test_cases(split.train, split.test)
    oracle = make_recommender("oracle").fit(split.train)
    ranking = oracle.recommend(cases.queries, 10)
    assert ranking.items.shape == (len(cases), 10)
    top = evaluate_recommender(oracle, cases, n_boot=50).value("ndcg")
    floor = evaluate_recommender(make_recommender("global-popularity").fit(split.train), cases, n_boot=50)
    assert top > floor.value("ndcg")
    oracle.save(tmp_path / "oracle")
    np.testing.assert_array_equal(
        load_recommender(tmp_path / "oracle").recommend(cases.queries, 10).items, ranking.items
    )


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 5),  # customer
            st.one_of(st.none(), st.sampled_from(["n", "s"])),  # area, sometimes missing
            st.integers(0, 6),  # dish
            st.integers(0, 72),  # hours after the start
        ),
        min_size=1,
        max_size=30,
    ),
    k=st.integers(1, 9),
)
def test_any_small_log_gives_well_formed_rankings(rows, k):
    orders = orders_frame(
        [
            (f"o{i}", f"c{c}", pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=h), a, f"r{d // 2}", f"d{d}")
            for i, (c, a, d, h) in enumerate(rows)
        ]
    )
    log = OrderLog(orders, timezone="America/New_York")
    n_dishes = orders["item_id"].nunique()
    queries = q(["c0", "c3", "zz", None], ["n", None, "s", "elsewhere"])
    for name in LEARNED:
        ranking = make_recommender(name).fit(log).recommend(queries, k)
        assert ranking.items.shape == (4, k)
        for row in ranking.items.tolist():
            shown = [item for item in row if item is not None]
            assert len(shown) == min(k, n_dishes) == len(set(shown))
            assert row[: len(shown)] == shown  # padding only at the end
