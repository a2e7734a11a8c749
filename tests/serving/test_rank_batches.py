"""The event loop's line to a ranking process (``LoopBatches``): concurrent requests share batches, a stuck process
times out with 503 and recovers, a dead one leaves the fallback answering, answers equal the server's own ranking."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from foodrec.serving.app import create_app
from foodrec.serving.rank_process import RankProcess
from foodrec.serving.state import ServiceState

AT = "2026-03-02T19:02:00Z"
ASKS = [(f"c{i:02d}", ("north", "south", "east", None)[i % 4]) for i in range(1, 41)] + [("nobody", "north")]


@pytest.fixture()
def remote_state(city):
    """A service state whose model (the store's popularity model) ranks in a process of its own."""
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    model = state.snapshot.models["default"]
    remote = RankProcess(model.recommender)
    object.__setattr__(model, "remote", remote)
    yield state
    remote.close()


def _get(client, customer, area, **extra):
    params = {"customer_id": customer, "at": AT, "k": 6, **({"area": area} if area else {}), **extra}
    return client.get("/v1/recommendations", params=params)


def _items(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["item_id"] for item in response.json()["items"]]


def test_concurrent_requests_share_batches_and_get_the_servers_own_answers(city, remote_state, tmp_path):
    here = ServiceState(recommender=str(city["model"]), store=city["store"])
    with (
        TestClient(create_app(here, tmp_path / "here.sqlite", cache_entries=0)) as local,
        TestClient(create_app(remote_state, tmp_path / "apart.sqlite", cache_entries=0)) as apart,
        ThreadPoolExecutor(16) as pool,
    ):
        expected = [_items(_get(local, c, a)) for c, a in ASKS]
        got = list(pool.map(lambda ask: _items(_get(apart, *ask)), ASKS))
        metrics = apart.get("/metrics").text
    assert got == expected
    client = remote_state.snapshot.models["default"].remote.client
    assert client is not None and not client._in_flight and not client._pending
    count = next(line for line in metrics.splitlines() if line.startswith("foodrec_recommend_batch_size_count"))
    assert 0 < float(count.split()[-1]) <= len(ASKS)  # every query went through a batch of the ranking process


def test_queries_that_wait_while_the_process_works_go_down_as_one_batch(remote_state, tmp_path):
    remote = remote_state.snapshot.models["default"].remote
    with TestClient(create_app(remote_state, tmp_path / "e.sqlite", cache_entries=0)) as client:
        expected = [_items(_get(client, c, a)) for c, a in ASKS[:12]]
        os.kill(remote._process.pid, signal.SIGSTOP)  # busy: two batches in flight, the other ten wait
        try:
            with ThreadPoolExecutor(12) as pool:
                futures = [pool.submit(_get, client, c, a) for c, a in ASKS[:12]]
                deadline = time.monotonic() + 10
                while len(remote.client._pending) < 10 and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert len(remote.client._in_flight) == 2 and len(remote.client._pending) == 10
                os.kill(remote._process.pid, signal.SIGCONT)
                got = [_items(f.result(10)) for f in futures]
        finally:
            os.kill(remote._process.pid, signal.SIGCONT)
        metrics = client.get("/metrics").text
    assert sorted(got) == sorted(expected)
    buckets = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if "recommend_batch_size_bucket" in line)
    assert float(buckets['foodrec_recommend_batch_size_bucket{le="8"}']) == 12 + 2  # 12 alone before, then 1 + 1
    assert float(buckets['foodrec_recommend_batch_size_bucket{le="16"}']) == 12 + 3  # ... and the 10 together


def test_a_stuck_ranking_process_times_out_with_503_then_answers_again(remote_state, tmp_path):
    process = remote_state.snapshot.models["default"].remote._process
    app = create_app(remote_state, tmp_path / "e.sqlite", cache_entries=0, recommend_timeout_s=0.5)
    with TestClient(app) as client:
        before = _items(_get(client, "c01", "north"))
        os.kill(process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            stuck = _get(client, "c01", "north")
            waited = time.monotonic() - started
        finally:
            os.kill(process.pid, signal.SIGCONT)
        assert stuck.status_code == 503 and stuck.headers["retry-after"] == "1"
        assert 0.4 < waited < 5
        assert _items(_get(client, "c01", "north")) == before  # the late answer of the stuck batch is dropped


def test_a_dead_ranking_process_leaves_the_fallback_answering(remote_state, tmp_path):
    process = remote_state.snapshot.models["default"].remote._process
    with TestClient(create_app(remote_state, tmp_path / "e.sqlite", cache_entries=0)) as client:
        assert _get(client, "c01", "north").json()["fallback"] is False
        process.kill()
        process.join(timeout=10)
        for _ in range(3):  # the next requests too: each gets the fallback's answer, none an error
            answer = _get(client, "c02", "south")
            assert answer.status_code == 200 and answer.json()["fallback"] is True and _items(answer)
        metrics = client.get("/metrics").text
    assert 'foodrec_recommender_errors_total{variant="default"}' in metrics


def test_a_new_event_loop_gets_its_own_client_and_the_old_one_lets_go(remote_state, tmp_path):
    remote = remote_state.snapshot.models["default"].remote
    app = create_app(remote_state, tmp_path / "e.sqlite", cache_entries=0)
    with TestClient(app) as client:
        first = _items(_get(client, "c03", "east"))
    old = remote.client
    with TestClient(app) as client:  # another `with`: another event loop
        assert _items(_get(client, "c03", "east")) == first
    assert old is not None and old.closed and remote.client is not old


def test_admin_rankings_go_through_the_same_batches_and_answer_as_the_server(city, remote_state, tmp_path):
    here = ServiceState(recommender=str(city["model"]), store=city["store"])
    visits = [{"customer_id": c, "at": AT, "k": 6, **({"area": a} if a else {})} for c, a in ASKS[:8]]
    auth = {"Authorization": "Bearer t"}
    with (
        TestClient(create_app(here, tmp_path / "here.sqlite", admin_token="t")) as local,
        TestClient(create_app(remote_state, tmp_path / "apart.sqlite", admin_token="t")) as apart,
    ):
        expected = local.post("/v1/admin/rankings/batch", json={"visits": visits}, headers=auth)
        got = apart.post("/v1/admin/rankings/batch", json={"visits": visits}, headers=auth)
    assert got.status_code == 200 and got.json() == expected.json()
    client = remote_state.snapshot.models["default"].remote.client
    assert client is not None and next(client._ids) > 0  # ranked by the loop's batches, not the batcher's thread
