"""Under load the server answers or sheds cleanly (503), reloads drop no request, and it never crashes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from foodrec.serving.app import create_app
from foodrec.serving.fallback import PopularityFallback
from foodrec.serving.state import ServiceState


class Slow:
    """Wraps a recommender and makes every call take a while, so requests pile up."""

    def __init__(self, inner, seconds: float):
        self.inner, self.seconds, self.level = inner, seconds, inner.level

    def recommend(self, queries, k=10):
        time.sleep(self.seconds)
        return self.inner.recommend(queries, k)


def slow_state(city, seconds: float) -> ServiceState:
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    model = state.snapshot.models["default"]
    object.__setattr__(model, "recommender", Slow(model.recommender, seconds))
    return state


def hammer(url: str, n: int, workers: int) -> list[httpx.Response]:
    def one(i: int) -> httpx.Response:
        return httpx.get(f"{url}/v1/recommendations", params={"customer_id": f"c{i % 40:02d}"}, timeout=30)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def test_overload_is_shed_with_503_and_the_server_keeps_answering(city, tmp_path, live_server):
    app = create_app(slow_state(city, 0.2), tmp_path / "e.sqlite", max_in_flight=4)
    with live_server(app) as server:
        responses = hammer(server.url, 48, 24)
        statuses = {r.status_code for r in responses}
        assert statuses <= {200, 503} and statuses == {200, 503}, statuses
        shed = next(r for r in responses if r.status_code == 503)
        assert shed.headers["retry-after"] == "1" and "busy" in shed.json()["detail"]
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert httpx.get(f"{server.url}/v1/recommendations", params={"customer_id": "c1"}).status_code == 200
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'foodrec_http_requests_shed_total{reason="concurrency limit"}' in metrics


def test_a_full_recommendation_queue_is_shed_too(city, tmp_path, live_server):
    app = create_app(slow_state(city, 0.2), tmp_path / "e.sqlite", max_queue=2, max_batch=1)
    with live_server(app) as server:
        statuses = {r.status_code for r in hammer(server.url, 24, 12)}
        assert statuses == {200, 503}
        assert httpx.get(f"{server.url}/v1/recommendations", params={"customer_id": "c1"}).status_code == 200


def test_reload_under_load_drops_no_request(city, tmp_path, order_log, live_server):
    other = PopularityFallback().fit(order_log.before("2026-02-10")).save(tmp_path / "model-b")
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    app = create_app(state, tmp_path / "e.sqlite", admin_token="t")
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def load(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                r = client.get("/v1/recommendations", params={"customer_id": "c03", "area": "south"})
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.add(r.json()["model_version"])

    with live_server(app) as server:
        threads = [threading.Thread(target=load, args=(server.url,)) for _ in range(4)]
        for t in threads:
            t.start()
        reloaded = []
        for path in (other, city["model"], other):
            time.sleep(0.3)
            r = httpx.post(
                f"{server.url}/v1/admin/reload",
                json={"variants": {"default": str(path)}},
                headers={"Authorization": "Bearer t"},
                timeout=60,
            )
            assert r.status_code == 200, r.text
            reloaded.append(r.json()["variants"]["default"]["model_version"])
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
    assert len(statuses) > 20 and set(statuses) == {200}
    assert versions == set(reloaded)


def test_a_stuck_model_answers_503_after_the_timeout_and_the_server_stays_up(city, tmp_path, live_server):
    app = create_app(slow_state(city, 1.5), tmp_path / "e.sqlite", recommend_timeout_s=0.3)
    with live_server(app) as server:
        r = httpx.get(f"{server.url}/v1/recommendations", params={"customer_id": "c1"}, timeout=10)
        assert r.status_code == 503 and "within 0.3 s" in r.json()["detail"]
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert 'reason="recommendation timeout"' in httpx.get(f"{server.url}/metrics").text
