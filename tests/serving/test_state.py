"""What the service holds: the query frame it builds, the catalogue lookup, the fallback, versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from foodrec.recommenders.base import load_recommender, make_queries
from foodrec.serving.fallback import PopularityFallback
from foodrec.serving.state import Catalogue, Query, ServiceState, queries_frame


def test_the_query_frame_is_the_one_make_queries_builds():
    at = [datetime(2026, 3, 2, 19, 30, tzinfo=UTC), datetime(2026, 3, 3, 1, 5, 7, 123456, tzinfo=UTC)]
    queries = [Query("c1", "north", at[0], 10), Query("new", None, at[1], 5)]
    pd.testing.assert_frame_equal(queries_frame(queries), make_queries(["c1", "new"], ["north", None], at))


def test_catalogue_describes_dishes_and_restaurants(order_log):
    catalogue = Catalogue.from_log(order_log)
    assert catalogue.describe("i21", "dish") == {
        "name": "Curry dish 1",
        "restaurant_id": "r2",
        "restaurant_name": "Curry House",
        "price": 10.5,
    }
    assert catalogue.describe("r1", "restaurant")["name"] == "Sushi Go"
    assert catalogue.describe("unknown", "dish") == {
        "name": None,
        "restaurant_id": None,
        "restaurant_name": None,
        "price": None,
    }
    assert set(catalogue.areas) == {"north", "south", "east"}


def test_fallback_ranks_area_first_then_global_and_round_trips(order_log, tmp_path):
    rec = PopularityFallback().fit(order_log)
    items, scores = rec.ranked("north", 24)
    north = set(order_log.orders.loc[order_log.orders["area"] == "north", "item_id"])
    assert set(items[: len(north)]) == north and len(items) == 24 and len(set(items)) == 24
    assert scores == sorted(scores, reverse=True)
    loaded = load_recommender(rec.save(tmp_path / "fb"))
    assert loaded.ranked("north", 5) == rec.ranked("north", 5)
    assert loaded.ranked(None, 3) == rec.ranked("mars", 3)


def test_versions_name_the_model_files_and_the_store_data(city, order_log, tmp_path):
    a = ServiceState(recommender=str(city["model"]), store=city["store"]).snapshot.models["default"].version
    b = ServiceState(recommender=str(city["model"]), store=city["store"]).snapshot.models["default"].version
    assert a == b  # same files, same version, across restarts
    other = PopularityFallback().fit(order_log.before("2026-02-05")).save(tmp_path / "m2")
    assert ServiceState(recommender=str(other), store=city["store"]).snapshot.models["default"].version != a
    baseline = ServiceState(recommender="area-popularity", store=city["store"]).snapshot.models["default"]
    assert baseline.version.startswith("area-popularity@") and baseline.level == "dish"


def test_recommender_may_repeat_a_variant_of_the_ab_config(city, tmp_path):
    import json

    ab = tmp_path / "ab.json"
    ab.write_text(json.dumps({"salt": "demo", "variants": {"control": "area-popularity", "model": str(city["model"])},
                              "split": {"control": 0.5, "model": 0.5}}))  # fmt: skip
    state = ServiceState(recommender=str(city["model"]), ab=ab, store=city["store"])
    assert set(state.snapshot.models) == {"control", "model"}


def test_the_batcher_answers_each_job_and_refuses_after_close():
    import asyncio

    import pytest

    from foodrec.serving.batching import MicroBatcher, Overloaded

    def double(key, payloads):
        if any(p < 0 for p in payloads):
            raise ValueError("negative")
        return [p * 2 for p in payloads]

    batcher = MicroBatcher(double, max_batch=8)

    async def many():
        return await asyncio.gather(*(batcher.submit("m", i) for i in range(50)))

    assert asyncio.run(many()) == [i * 2 for i in range(50)]
    with pytest.raises(ValueError, match="negative"):
        asyncio.run(batcher.submit("m", -1))
    batcher.close()
    with pytest.raises(Overloaded, match="shutting down"):
        asyncio.run(batcher.submit("m", 1))
