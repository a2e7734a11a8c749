"""Several processes on one event store stay in step (``foodrec serve --workers N``, :mod:`foodrec.serving.sync`);
the ranked answer's JSON is written without pydantic models but is the same bytes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from foodrec.serving.app import create_app
from foodrec.serving.routers.recommendations import HIDDEN_ITEM_FIELDS, answer_json
from foodrec.serving.schemas import RecommendationResponse, RecommendedItem
from foodrec.serving.state import Catalogue, LoadedModel, Query, Ranked, ServiceState

AT = "2026-03-02T12:30:00Z"  # after the store's last order (the fixture log spans February 2026)


def test_the_answer_json_is_the_pydantic_models_bytes(city):
    catalogue = Catalogue(item_name={"i00": "Pizza \u00e9"}, item_restaurant={"i00": "r0"}, item_price={"i00": 8.5},
                          restaurant_name={"r0": "Roma"})  # fmt: skip
    model = LoadedModel("control", "m", None, "keras@abc", "dish", datetime.now(UTC))
    for area, scores, fallback in ((None, [1.25, -3e-7], 0), ("north", [7.0, None], 1), ("s", [1e300, 0.1], 2),
                                   ("s", [], 0), ("\u00e9\"", [2.0], 0)):  # fmt: skip
        query = Query("c\u00fc1", area, datetime(2026, 3, 1, 12, tzinfo=UTC), 2)
        ranked = Ranked(["i00", "zz"][: len(scores)], scores, fallback)
        n_model = len(scores) - fallback
        hidden = {"request_id": True, "at": True, "items": {"__all__": set(HIDDEN_ITEM_FIELDS)}}
        expected = RecommendationResponse(
            request_id="", customer_id=query.customer_id, area=area, at=query.at, k=2, level="dish",
            variant="control", model_version="keras@abc", fallback=fallback > 0,
            items=[RecommendedItem(rank=i + 1, item_id=item, score=s, source="model" if i < n_model else "fallback",
                                   **catalogue.describe(item, "dish"))
                   for i, (item, s) in enumerate(zip(ranked.items, scores, strict=True))],
        ).model_dump_json(exclude=hidden)  # fmt: skip
        assert answer_json(query, model, ranked, catalogue) == expected.encode()


def _ask(client, customer: str) -> dict:
    answer = client.get("/v1/recommendations", params={"customer_id": customer, "area": "north", "at": AT, "k": 8})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _order(client, key: str, customer: str, item: str) -> None:
    event = {"idempotency_key": key, "type": "order", "customer_id": customer, "items": [item], "area": "north",
             "occurred_at": "2026-03-02T11:00:00Z"}  # fmt: skip
    answer = client.post("/v1/events", json={"events": [event]})
    assert answer.status_code == 200 and answer.json()["stored"] == 1, answer.text


def test_two_processes_on_one_store_see_each_others_orders_and_reloads(city, tmp_path):
    # Two apps on one SQLite event store stand for two worker processes: what one is told, the other learns at
    # its next poll (called here directly instead of waiting for the interval).
    events = tmp_path / "events.sqlite"
    apps = [
        create_app(
            ServiceState(recommender="customer-history", store=city["store"]),
            events,
            admin_token="t",
            sync_interval_s=3600,
        )  # fmt: skip
        for _ in range(2)
    ]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        sync_b = apps[1].state.service.sync
        assert _ask(a, "walk-in-1")["variant"] == _ask(b, "walk-in-1")["variant"]
        before = [it["item_id"] for it in _ask(b, "walk-in-1")["items"]]
        _order(a, "order-1", "walk-in-1", "i52")
        assert [it["item_id"] for it in _ask(a, "walk-in-1")["items"]][0] == "i52"
        assert [it["item_id"] for it in _ask(b, "walk-in-1")["items"]] == before  # b has not polled yet
        assert asyncio.run(sync_b.step()) == (False, 1)
        assert [it["item_id"] for it in _ask(b, "walk-in-1")["items"]][0] == "i52"  # its cached answer dropped
        assert asyncio.run(sync_b.step()) == (False, 0)  # read again (the overlap): folded once
        generation = apps[1].state.service.state.snapshot.generation
        answer = a.post("/v1/admin/reload", headers={"Authorization": "Bearer t"},
                        json={"variants": {"default": "area-popularity"}})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert asyncio.run(sync_b.step())[0] is True
        snapshot = apps[1].state.service.state.snapshot
        assert snapshot.generation == generation + 1 and snapshot.models["default"].source == "area-popularity"
        assert asyncio.run(apps[0].state.service.sync.step())[0] is False  # a does not reload twice


@pytest.mark.slow
def test_serve_with_two_workers(city, tmp_path, serve_process):
    server = serve_process(*["--recommender", "customer-history", "--store", str(city["store"]), "--workers", "2",
                            "--sync-interval", "0.2", "--events", str(tmp_path / "events.sqlite"),
                            "--admin-token", "t"])  # fmt: skip
    assert "2 worker processes" in "".join(server.lines)

    def fresh(method: str, path: str, **kwargs) -> httpx.Response:
        # A new connection each time: SO_REUSEPORT hands it to either worker.
        with httpx.Client(base_url=server.url, timeout=10) as client:
            return client.request(method, path, **kwargs)

    params = {"customer_id": "walk-in-2", "area": "north", "at": AT, "k": 8}
    answers = [fresh("GET", "/v1/recommendations", params=params) for _ in range(16)]
    assert {a.status_code for a in answers} == {200} and len({a.headers["x-foodrec-variant"] for a in answers}) == 1
    event = {"idempotency_key": "order-2", "type": "order", "customer_id": "walk-in-2", "items": ["i52"],
             "area": "north", "occurred_at": "2026-03-02T11:00:00Z"}  # fmt: skip
    assert fresh("POST", "/v1/events", json={"events": [event]}).json()["stored"] == 1
    time.sleep(1.0)  # five poll intervals
    firsts = {fresh("GET", "/v1/recommendations", params=params).json()["items"][0]["item_id"] for _ in range(16)}
    assert firsts == {"i52"}  # whichever worker answers
    reload = fresh("POST", "/v1/admin/reload", headers={"Authorization": "Bearer t"},
                   json={"variants": {"default": "area-popularity"}})  # fmt: skip
    assert reload.status_code == 200, reload.text
    time.sleep(1.0)
    sources = {fresh("GET", "/readyz").json()["variants"]["default"]["recommender"] for _ in range(16)}
    assert sources == {"area-popularity"}
