"""`foodrec serve` as a real process: the routes over HTTP, an A/B config, and SIGKILL durability."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from foodrec.serving.events import open_event_store


def test_serve_a_baseline_and_a_model_under_an_ab_config(serve_process, city, tmp_path):
    config = tmp_path / "ab.toml"
    config.write_text(
        'salt = "test"\n'
        '[[variants]]\nname = "control"\nrecommender = "area-popularity"\nshare = 0.5\n'
        f'[[variants]]\nname = "model"\nrecommender = "{city["model"]}"\nshare = 0.5\n'
    )
    server = serve_process("--ab", str(config), "--store", str(city["store"]), "--events", str(tmp_path / "ev.sqlite"))
    assert server.url.startswith("http://127.0.0.1:")  # loopback unless told otherwise
    seen = {}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(30):
            body = client.get("/v1/recommendations", params={"customer_id": f"c{i:02d}", "area": "north"}).json()
            seen.setdefault(body["variant"], body)
            again = client.get("/v1/recommendations", params={"customer_id": f"c{i:02d}", "area": "north"}).json()
            assert again["variant"] == body["variant"]  # sticky
        assert set(seen) == {"control", "model"}
        assert seen["control"]["model_version"].startswith("area-popularity@")
        assert all(item["name"] for item in seen["control"]["items"])
        event = {"idempotency_key": "e1", "type": "impression", "customer_id": "c00", "items": ["i00"]}
        assert client.post("/v1/events", json={"events": [event]}).json()["stored"] == 1
        assert client.get("/readyz").json()["status"] == "ready"
        assert "foodrec_http_requests_total" in client.get("/metrics").text
        assert client.get("/openapi.json").json()["paths"]["/v1/recommendations"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_event_acknowledged_before_sigkill_is_stored(serve_process, city, tmp_path, request, backend):
    events_url = str(tmp_path / "ev.sqlite") if backend == "sqlite" else request.getfixturevalue("pg_schema_url")
    server = serve_process("--recommender", str(city["model"]), "--store", str(city["store"]), "--events", events_url)
    acked: list[str] = []
    stop = threading.Event()

    def stream(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            i = 0
            while not stop.is_set():
                key = f"w{worker}-{i}"
                try:
                    r = client.post(
                        "/v1/events",
                        json={"events": [{"idempotency_key": key, "type": "click", "customer_id": f"c{i % 40:02d}"}]},
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200 and r.json()["stored"] == 1:
                    acked.append(key)
                i += 1

    threads = [threading.Thread(target=stream, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(server.proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
    server.proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acked) >= 200
    with open_event_store(events_url) as store:
        stored = set(store.read_events()["event_id"])
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
