"""Several replicas share one PostgreSQL event store; readiness reflects the event store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from foodrec.errors import StoreError
from foodrec.serving.ab import ABConfig, Variant
from foodrec.serving.app import create_app
from foodrec.serving.events import SQLiteEventStore, open_event_store
from foodrec.serving.state import ServiceState


def test_two_replicas_on_one_postgres_store_each_key_once_and_agree_on_variants(city, pg_schema_url):
    ab = ABConfig(
        salt="r", variants=(Variant("control", str(city["model"]), 0.5), Variant("model", str(city["model"]), 0.5))
    )
    apps = [create_app(ServiceState(ab=ab, store=city["store"]), pg_schema_url) for _ in range(2)]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        for i in range(20):
            customer = f"c{i:02d}"
            va = a.get("/v1/recommendations", params={"customer_id": customer}).json()["variant"]
            vb = b.get("/v1/recommendations", params={"customer_id": customer}).json()["variant"]
            assert va == vb  # sticky across replicas: the hash needs no shared state
            event = {"idempotency_key": f"k{i}", "type": "order", "customer_id": customer, "order_value": 10.0}
            first = a.post("/v1/events", json={"events": [event]}).json()
            second = b.post("/v1/events", json={"events": [event]}).json()
            assert (first["stored"], second["duplicates"]) == (1, 1)
    with open_event_store(pg_schema_url) as store:
        assert store.count() == 20


class Down(SQLiteEventStore):
    def ping(self) -> None:
        raise StoreError("event store 'down' does not answer: connection refused")


def test_readyz_is_503_when_the_event_store_does_not_answer(city, tmp_path):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    with TestClient(create_app(state, Down(tmp_path / "e.sqlite"))) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "not ready" and "does not answer" in r.json()["detail"]
        assert client.get("/healthz").status_code == 200  # alive, just not ready
