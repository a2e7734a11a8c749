"""The response cache: repeats in a time slot skip the model, answers never depend on it, reload empties it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from foodrec.serving.app import create_app
from foodrec.serving.cache import CachedAnswer, ResponseCache
from foodrec.serving.schemas import RecommendationResponse
from foodrec.serving.state import ServiceState

TOKEN = "cache-token"


class Spy:
    """Wraps a fitted recommender and records every query frame it is asked to rank."""

    def __init__(self, inner):
        self.inner = inner
        self.level = inner.level
        self.calls: list = []

    def recommend(self, queries, k=10):
        self.calls.append(queries.copy())
        return self.inner.recommend(queries, k=k)


def spied_client(city, tmp_path, **options):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    spy = Spy(state.snapshot.models["default"].recommender)
    object.__setattr__(state.snapshot.models["default"], "recommender", spy)
    app = create_app(state, tmp_path / "events.sqlite", admin_token=TOKEN, **options)
    return TestClient(app), spy


def test_a_repeat_in_the_same_slot_is_answered_without_the_model(city, tmp_path):
    client, spy = spied_client(city, tmp_path)
    params = {"customer_id": "c01", "area": "north", "k": 5}
    with client:
        first = client.get("/v1/recommendations", params={**params, "at": "2026-03-01T12:31:10Z"})
        second = client.get("/v1/recommendations", params={**params, "at": "2026-03-01T12:34:59Z"})
        metrics = client.get("/metrics").text
    assert first.headers["x-foodrec-cache"] == "miss" and second.headers["x-foodrec-cache"] == "hit"
    assert len(spy.calls) == 1
    a, b = first.json(), second.json()
    assert a["request_id"] != b["request_id"]
    assert a["at"] == "2026-03-01T12:31:10Z" and b["at"] == "2026-03-01T12:34:59Z"  # each request's own time
    drop = ("request_id", "at")
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    RecommendationResponse.model_validate_json(second.content)  # the spliced body is a valid answer
    assert 'foodrec_recommendation_cache_requests_total{result="hit"} 1' in metrics
    assert 'foodrec_recommendation_cache_requests_total{result="miss"} 1' in metrics
    assert 'foodrec_recommendations_total{variant="default",model_version=' in metrics


def test_rankings_are_computed_for_the_start_of_the_slot(city, tmp_path):
    client, spy = spied_client(city, tmp_path, time_resolution_s=600)
    with client:
        client.get("/v1/recommendations", params={"customer_id": "c02", "at": "2026-03-01T18:07:42+01:00"})
    (frame,) = spy.calls
    assert frame["at"].iloc[0] == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "other",
    [
        {"customer_id": "c02"},
        {"area": "south"},
        {"k": 4},
        {"at": "2026-03-01T12:35:00Z"},  # the next 5-minute slot
    ],
)
def test_anything_that_changes_the_answer_is_ranked_anew(city, tmp_path, other):
    client, spy = spied_client(city, tmp_path)
    params = {"customer_id": "c01", "area": "north", "k": 5, "at": "2026-03-01T12:31:00Z"}
    with client:
        client.get("/v1/recommendations", params=params)
        r = client.get("/v1/recommendations", params={**params, **other})
    assert r.headers["x-foodrec-cache"] == "miss" and len(spy.calls) == 2


def test_cache_off_gives_the_same_answers(city, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cached, _ = spied_client(city, tmp_path / "a")
    uncached, spy = spied_client(city, tmp_path / "b", cache_entries=0)
    drop = ("request_id", "at")
    with cached, uncached:
        for customer, area in [("c01", "north"), ("c05", "south"), ("new-customer", None), ("c01", "north")]:
            params = {"customer_id": customer, "k": 6, "at": "2026-03-02T19:02:00Z"}
            if area:
                params["area"] = area
            a = cached.get("/v1/recommendations", params=params)
            b = uncached.get("/v1/recommendations", params=params)
            assert b.headers["x-foodrec-cache"] == "miss"
            assert {k: v for k, v in a.json().items() if k not in drop} == {
                k: v for k, v in b.json().items() if k not in drop
            }
    assert len(spy.calls) == 4


def test_a_failed_ranking_is_not_cached(city, tmp_path):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])

    class Flaky:
        level = "dish"
        calls = 0

        def recommend(self, queries, k=10):
            Flaky.calls += 1
            raise RuntimeError("model server hiccup")

    object.__setattr__(state.snapshot.models["default"], "recommender", Flaky())
    with TestClient(create_app(state, tmp_path / "e.sqlite")) as c:
        for _ in range(2):
            r = c.get("/v1/recommendations", params={"customer_id": "c01", "area": "north", "k": 3})
            assert r.status_code == 200 and r.json()["fallback"] and r.headers["x-foodrec-cache"] == "miss"
    assert Flaky.calls == 2


def test_a_reload_empties_the_cache(city, tmp_path, order_log):
    from foodrec.serving.fallback import PopularityFallback

    client, _ = spied_client(city, tmp_path)
    params = {"customer_id": "c01", "area": "north", "at": "2026-03-01T12:31:00Z"}
    new_model = PopularityFallback().fit(order_log.before("2026-02-10")).save(tmp_path / "model-v2")
    with client:
        before = client.get("/v1/recommendations", params=params)
        assert client.get("/v1/recommendations", params=params).headers["x-foodrec-cache"] == "hit"
        r = client.post(
            "/v1/admin/reload",
            json={"variants": {"default": str(new_model)}},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 200, r.text
        after = client.get("/v1/recommendations", params=params)
    assert after.headers["x-foodrec-cache"] == "miss"
    assert after.json()["model_version"] != before.json()["model_version"]


class Gate(Spy):
    """A :class:`Spy` that counts the orders folded into it and can hold its next ranking until released."""

    def __init__(self, inner):
        super().__init__(inner)
        self.orders_seen = 0
        self.seen_at_call: list[int] = []
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.release = threading.Event()

    def recommend(self, queries, k=10):
        self.seen_at_call.append(self.orders_seen)
        if self.hold.is_set():
            self.hold.clear()
            self.holding.set()
            assert self.release.wait(10), "the test never released the ranking"
        return super().recommend(queries, k=k)

    def observe(self, orders):
        self.orders_seen += orders["order_id"].nunique() if len(orders) else 0
        return len(orders)


def test_an_order_during_a_ranking_is_seen_by_the_next_answer_not_the_cached_one(city, tmp_path):
    """The race: customer c01's request is being ranked (without the order) when c01 orders. The answer of that
    ranking must not be served after the order; the next request is ranked anew and sees it."""
    client, spy = spied_client(city, tmp_path)
    gate = Gate(spy.inner)
    object.__setattr__(client.app.state.service.state.snapshot.models["default"], "recommender", gate)
    params = {"customer_id": "c01", "area": "north", "k": 5}  # "now": the order is in the slot's features
    order = {"idempotency_key": "race-1", "type": "order", "customer_id": "c01", "items": ["i01"], "area": "north"}
    with client, ThreadPoolExecutor(2) as pool:
        gate.hold.set()
        during = pool.submit(client.get, "/v1/recommendations", params=params)
        assert gate.holding.wait(10)
        posted = pool.submit(client.post, "/v1/events", json={"events": [order]})
        time.sleep(0.2)  # the order is stored; folding it in waits for the model's lock, held by the ranking
        gate.release.set()
        assert during.result(10).status_code == 200 and posted.result(10).status_code == 200
        after = client.get("/v1/recommendations", params=params)
        again = client.get("/v1/recommendations", params=params)
    assert gate.seen_at_call[0] == 0  # the held ranking did not see the order
    assert after.headers["x-foodrec-cache"] == "miss" and gate.seen_at_call[-1] == 1
    assert again.headers["x-foodrec-cache"] == "hit" and len(gate.calls) == 2


def test_the_lru_keeps_the_most_recently_used_entries():
    cache = ResponseCache(max_entries=2)
    slot = datetime(2026, 3, 1, tzinfo=UTC)
    keys = [cache.key(1, "v", f"c{i}", None, slot, 10) for i in range(3)]
    answer = CachedAnswer(b"{}", "v", "m", 0)
    cache.put(keys[0], answer)
    cache.put(keys[1], answer)
    assert cache.get(keys[0]) is not None  # c0 is now the most recent
    cache.put(keys[2], answer)
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None and cache.get(keys[2]) is not None
    assert len(cache) == 2 and cache.evictions == 1


def test_an_answer_ranked_before_a_reload_is_not_stored_after_it():
    cache = ResponseCache()
    slot = datetime(2026, 3, 1, tzinfo=UTC)
    old = cache.key(1, "v", "c1", None, slot, 10)
    new = cache.key(2, "v", "c1", None, slot, 10)  # the reload happened while `old` was being ranked
    cache.put(old, CachedAnswer(b"{}", "v", "m", 0))
    assert len(cache) == 0 and cache.get(new) is None


@pytest.mark.parametrize(("entries", "resolution"), [(-1, 300), (10, 0)])
def test_bad_settings_are_refused(entries, resolution):
    with pytest.raises(ValueError):
        ResponseCache(entries, resolution)


@given(
    when=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(UTC)),
    resolution=st.integers(min_value=1, max_value=86_400),
)
def test_a_slot_starts_at_or_before_the_time_and_holds_it(when, resolution):
    slot = ResponseCache(resolution_s=resolution).slot(when)
    assert slot <= when < slot + timedelta(seconds=resolution)
    assert int(slot.timestamp()) % resolution == 0


def test_serve_refuses_bad_cache_settings(city):
    from foodrec.cli import main

    for flag in (["--cache-entries", "-1"], ["--time-resolution", "0"]):
        assert main(["serve", "--recommender", str(city["model"]), "--store", str(city["store"]), *flag]) == 2


def test_the_same_query_string_is_validated_once_and_bad_ones_every_time(city, tmp_path):
    client, spy = spied_client(city, tmp_path, time_resolution_s=86_400)  # "now" stays in one slot
    with client:
        for _ in range(2):
            bad = client.get("/v1/recommendations", params={"customer_id": "c01", "k": "0"})
            assert bad.status_code == 422 and "k:" in bad.json()["message"]
        answers = [client.get("/v1/recommendations", params={"customer_id": "c01", "area": "north"}) for _ in range(3)]
        metrics = client.get("/metrics").text
    assert [a.headers["x-foodrec-cache"] for a in answers] == ["miss", "hit", "hit"]
    assert len({a.json()["request_id"] for a in answers}) == 3 and len(spy.calls) == 1
    for a in answers[1:]:  # answered before the framework's routing: the same answer, headers and metrics
        RecommendationResponse.model_validate_json(a.content)
        assert a.headers["content-type"] == "application/json" and a.headers["x-foodrec-variant"] == "default"
        drop = ("request_id", "at")
        assert {k: v for k, v in a.json().items() if k not in drop} == {
            k: v for k, v in answers[0].json().items() if k not in drop
        }
    served = 'foodrec_http_requests_total{route="/v1/recommendations",method="GET",status="200",variant="default"} 3'
    assert served in metrics
    assert 'foodrec_recommendations_total{variant="default"' in metrics


def _answer(size: int) -> CachedAnswer:
    return CachedAnswer(b"{" + b"x" * (size - 2) + b"}", "v", "m", 0)


def test_the_cache_is_capped_in_bytes_not_only_in_entries():
    cache = ResponseCache(max_entries=10_000, max_bytes=20_000)
    slot = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(100):
        cache.put(cache.key(1, "v", f"c{i}", None, slot, 10), _answer(2_000))
        assert cache.answer_bytes <= 20_000
    assert 0 < len(cache) < 10 and cache.evictions > 90
    assert cache.get(cache.key(1, "v", "c99", None, slot, 10)) is not None  # the newest stay


def test_long_query_strings_are_not_remembered_and_short_ones_within_a_quarter_of_the_cap():
    cache = ResponseCache(max_entries=10_000, max_bytes=40_000)
    parsed = ("c1", None, None, 10)
    cache.remember(b"customer_id=c1&junk=" + b"x" * 60_000, parsed)
    assert cache.query_bytes == 0 and cache.parsed(b"customer_id=c1&junk=" + b"x" * 60_000) is None
    for i in range(500):
        cache.remember(f"customer_id=c{i}&junk={'y' * 1000}".encode(), parsed)
        assert cache.query_bytes <= 10_000
    assert cache.parsed(f"customer_id=c499&junk={'y' * 1000}".encode()) == parsed


def test_the_byte_estimate_is_not_far_below_what_python_holds():
    import tracemalloc

    cache = ResponseCache(max_entries=100_000, max_bytes=1 << 30)
    slot = datetime(2026, 3, 1, tzinfo=UTC)
    bodies = [_answer(1_500) for _ in range(2_000)]  # made before tracing: the cache holds them, not makes them
    keys = [(f"customer_id=c{i}&k=10".encode(), f"c{i}") for i in range(2_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for (query, customer), body in zip(keys, bodies, strict=True):
            cache.remember(query, (customer, None, None, 10))
            cache.put(cache.key(1, "v", customer, None, slot, 10), body)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # bodies and query strings existed before; the estimate counts them, so it is an upper bound of the growth
    outside = sum(len(b.body) for b in bodies) + sum(len(q) for q, _ in keys)
    assert held <= cache.nbytes
    assert cache.nbytes <= held + outside + 2_000 * 1_000


def test_unique_queries_with_a_huge_unknown_parameter_do_not_grow_the_cache(city, tmp_path):
    client, _ = spied_client(city, tmp_path, cache_bytes=1 << 20)
    junk = "x" * 60_000
    with client:
        for i in range(40):
            r = client.get("/v1/recommendations", params={"customer_id": f"c{i:02d}", "junk": f"{i}{junk}"})
            assert r.status_code == 200
        cache = client.app.state.service.cache
        assert cache.query_bytes == 0 and cache.nbytes <= 1 << 20
        assert "foodrec_recommendation_cache_bytes " in client.get("/metrics").text
