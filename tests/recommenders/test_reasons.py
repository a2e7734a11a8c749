"""Reasons in plain words (``Recommender.explain``) and a customer's recent orders (``recent_orders``) of the
counting baselines and the service's fallback; the Keras model's are in ``test_keras_recommender.py``."""

from __future__ import annotations

import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.recommenders.base import make_queries
from foodrec.recommenders.reasons import ordered_before, popular_in
from foodrec.recommenders.registry import resolve_recommender
from foodrec.serving.fallback import PopularityFallback


def _log() -> OrderLog:
    rows = [  # c1 ordered d1 twice and d2 once, in the north; d9 is the south's favourite
        ("o1", "c1", "2026-01-05 12:00", "north", "r1", "d1"),
        ("o2", "c1", "2026-01-06 12:30", "north", "r1", "d1"),
        ("o2", "c1", "2026-01-06 12:30", "north", "r1", "d2"),
        ("o3", "c2", "2026-01-06 19:00", "north", "r2", "d5"),
        ("o4", "c3", "2026-01-07 19:00", "south", "r9", "d9"),
        ("o5", "c4", "2026-01-07 20:00", "south", "r9", "d9"),
    ]
    orders = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "area", "restaurant_id", "item_id"])
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
    return OrderLog(orders)


def test_phrases():
    assert ordered_before(1) == "you ordered it before (1 time)" and ordered_before(2).endswith("(2 times)")
    assert popular_in("south", "dinner") == "popular in south at dinner" and popular_in(None) == "popular overall"


def test_customer_history_says_what_the_customer_ordered_and_how_often_else_area_popularity():
    rec = resolve_recommender("customer-history", log=_log())
    queries = make_queries(["c1", "nobody"], ["north", "mars"], ["2026-01-10T12:00Z"] * 2)
    items = rec.recommend(queries, k=3).items.tolist()
    reasons = dict(zip(items[0], rec.explain(queries, items)[0], strict=True))
    assert reasons["d1"] == "you ordered it before (2 times)" and reasons["d2"] == "you ordered it before (1 time)"
    assert set(reasons.values()) - {ordered_before(1), ordered_before(2)} <= {"popular in north"}
    assert set(rec.explain(queries, items)[1]) == {"popular overall"}  # an unknown area is global popularity


def test_popularity_strategies_name_what_they_count():
    log = _log()
    queries = make_queries(["c1"], ["south"], ["2026-01-10T19:30Z"])  # dinner (UTC)
    for name, reason in [
        ("global-popularity", "popular overall"),
        ("area-popularity", "popular in south"),
        ("area-mealtime-popularity", "popular in south at dinner"),
    ]:
        rec = resolve_recommender(name, log=log)
        items = rec.recommend(queries, k=2).items.tolist()
        assert rec.explain(queries, items) == [[reason, reason]], name


def test_the_fallback_says_area_or_overall_and_the_base_class_names_the_recommender():
    rec = PopularityFallback(level="dish").fit(_log())
    queries = make_queries(["c1", "c1"], ["south", None], ["2026-01-10T19:30Z"] * 2)
    explained = rec.explain(queries, [["d9", "d1"], ["d1"]])
    assert explained == [["popular in south", "popular overall"], ["popular overall"]]
    assert super(PopularityFallback, rec).explain(queries, [["d9"], []]) == [["picked by serving-fallback"], []]


def test_recent_orders_of_a_baseline_include_the_orders_it_observed():
    rec = resolve_recommender("customer-history", log=_log())
    assert rec.recent_orders("c1", 5) == [
        {"at": "2026-01-06T12:30:00+00:00", "items": ["d1", "d2"]},
        {"at": "2026-01-05T12:00:00+00:00", "items": ["d1"]},
    ]
    new = pd.DataFrame([{"order_id": "o9", "customer_id": "c1", "ordered_at": pd.Timestamp("2026-01-09T18:00Z"),
                         "area": "north", "restaurant_id": "r9", "item_id": "d9"}])  # fmt: skip
    assert rec.observe(new) == 1
    assert rec.recent_orders("c1", 1) == [{"at": "2026-01-09T18:00:00+00:00", "items": ["d9"]}]
    assert rec.recent_orders("nobody") == [] and rec.recent_orders("c1", 0) == []
    queries = make_queries(["c1"], ["north"], ["2026-01-10T12:00Z"])
    assert rec.explain(queries, [["d9"]]) == [["you ordered it before (1 time)"]]
