"""The HTTP API in-process (FastAPI's TestClient): routes, fallback, 422s, idempotent events, metrics, admin."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from foodrec.serving.ab import ABConfig, Variant
from foodrec.serving.app import create_app
from foodrec.serving.state import ServiceState

TOKEN = "s3cret-token"


@pytest.fixture()
def client(city, tmp_path):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    app = create_app(state, tmp_path / "events.sqlite", admin_token=TOKEN)
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def ab_client(city, tmp_path):
    ab = ABConfig(
        salt="t", variants=(Variant("control", str(city["model"]), 0.5), Variant("model", str(city["model"]), 0.5))
    )
    app = create_app(ServiceState(ab=ab, store=city["store"]), tmp_path / "events.sqlite", admin_token=TOKEN)
    with TestClient(app) as c:
        yield c


def test_recommendations_have_names_prices_variant_version_and_request_id(client):
    r = client.get(
        "/v1/recommendations", params={"customer_id": "c01", "area": "north", "at": "2026-03-01T12:30:00Z", "k": 5}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["variant"] == "default" and r.headers["x-foodrec-variant"] == "default"
    assert body["model_version"].startswith("serving-fallback@")
    assert len(body["request_id"]) == 32 and body["level"] == "dish" and body["k"] == 5
    items = body["items"]
    assert [i["rank"] for i in items] == [1, 2, 3, 4, 5]
    first = items[0]
    # north's restaurants are r0 (Pizza Roma) and r3 (Burger Barn): its most ordered dish comes from one of them
    assert first["restaurant_name"] in ("Pizza Roma", "Burger Barn")
    assert first["name"].split()[0] in ("Pizza", "Burger") and first["price"] > 0
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)


def test_request_ids_are_unique_and_at_defaults_to_now(client):
    a = client.get("/v1/recommendations", params={"customer_id": "c01"}).json()
    b = client.get("/v1/recommendations", params={"customer_id": "c01"}).json()
    assert a["request_id"] != b["request_id"]
    assert a["at"][:4] >= "2026" or a["at"][:2] == "20"


@pytest.mark.parametrize("params", [{"customer_id": "never-seen"}, {"customer_id": "never-seen", "area": "mars"}])
def test_unknown_customer_or_area_gets_the_popularity_fallback_not_an_error(client, params):
    r = client.get("/v1/recommendations", params={**params, "k": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    # 24 dishes in the city: the model gives what it has, every item is a known dish
    assert len(body["items"]) == 24
    assert all(i["name"] for i in body["items"])


def test_slots_the_model_cannot_fill_come_from_the_fallback(city, tmp_path, order_log):
    from foodrec.recommenders.base import Ranking, Recommender

    class OneItem(Recommender):
        name = "one-item"

        def fit(self, log):
            return self

        def recommend(self, queries, k=10):
            import numpy as np

            items = np.full((len(queries), k), None, dtype=object)
            scores = np.full((len(queries), k), -np.inf)
            items[:, 0], scores[:, 0] = "i52", 9.0
            return Ranking(items, scores)

        def save_state(self, directory): ...

        @classmethod
        def load_state(cls, directory, manifest): ...

    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    snap = state.snapshot
    model = snap.models["default"]
    object.__setattr__(model, "recommender", OneItem(level="dish"))
    with TestClient(create_app(state, tmp_path / "e.sqlite")) as c:
        body = c.get("/v1/recommendations", params={"customer_id": "c01", "area": "south", "k": 4}).json()
    assert body["fallback"] is True
    assert [i["source"] for i in body["items"]] == ["model", "fallback", "fallback", "fallback"]
    assert body["items"][0]["item_id"] == "i52"
    assert "i52" not in [i["item_id"] for i in body["items"][1:]]


def test_a_failing_recommender_is_answered_by_the_fallback_and_counted(city, tmp_path):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])

    class Broken:
        level = "dish"

        def recommend(self, queries, k=10):
            raise RuntimeError("boom")

    object.__setattr__(state.snapshot.models["default"], "recommender", Broken())
    with TestClient(create_app(state, tmp_path / "e.sqlite")) as c:
        r = c.get("/v1/recommendations", params={"customer_id": "c01", "area": "north", "k": 3})
        assert r.status_code == 200 and len(r.json()["items"]) == 3 and r.json()["fallback"]
        assert 'foodrec_recommender_errors_total{variant="default"} 1' in c.get("/metrics").text


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({}, "customer_id"),
        ({"customer_id": "c1", "k": "0"}, "k"),
        ({"customer_id": "c1", "k": "101"}, "k"),
        ({"customer_id": "c1", "k": "ten"}, "k"),
        ({"customer_id": "c1", "at": "yesterday"}, "at"),
        ({"customer_id": "c1", "at": "1500-01-01T00:00:00Z"}, "at"),
        ({"customer_id": "c1", "at": "2200-01-01T00:00:00Z"}, "at"),
        # what the schema does not allow is refused, even where a lenient parser would guess
        ({"customer_id": "c1", "at": "0"}, "at"),  # a number, not a date-time
        ({"customer_id": "c1", "at": "2026-03-01T12:30:00"}, "at"),  # no offset
        ({"customer_id": "c1", "at": "2026-03-01T12:30Z"}, "at"),  # no seconds
        ({"customer_id": "c1", "k": "5.0"}, "k"),
        ({"customer_id": "c1", "k": " 5"}, "k"),
        ({"customer_id": "c1", "explain": "1"}, "explain"),
        ({"customer_id": "x" * 129}, "customer_id"),
        ({"customer_id": "c\x01"}, "customer_id"),
    ],
)
def test_bad_parameters_are_422_with_a_clear_message(client, params, where):
    r = client.get("/v1/recommendations", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["message"].startswith(f"{where}:"), body["message"]
    assert body["detail"][0]["loc"][-1] == where


def test_events_are_stored_once_per_key_with_variant_and_version(ab_client):
    rec = ab_client.get("/v1/recommendations", params={"customer_id": "c07", "k": 3}).json()
    event = {
        "idempotency_key": "k-1",
        "type": "order",
        "customer_id": "c07",
        "request_id": rec["request_id"],
        "items": [rec["items"][0]["item_id"]],
        "order_value": 23.5,
        "area": "north",
    }
    first = ab_client.post("/v1/events", json={"events": [event]})
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == 1
    assert first.json()["results"][0]["variant"] == rec["variant"]
    again = ab_client.post("/v1/events", json={"events": [event, {**event, "idempotency_key": "k-2"}]})
    assert again.json()["stored"] == 1 and again.json()["duplicates"] == 1
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "stored"]
    frame = ab_client.app.state.service.events.read_events()
    assert sorted(frame["event_id"]) == ["k-1", "k-2"]
    row = frame.set_index("event_id").loc["k-1"]
    assert row["variant"] == rec["variant"] and row["model_version"] == rec["model_version"]
    assert row["items"] == [rec["items"][0]["item_id"]] and row["order_value"] == 23.5
    assert str(row["received_at"].tz) == "UTC"


def test_the_variant_and_version_a_client_sends_are_ignored(ab_client):
    """A client cannot move its events into another A/B arm: the server's sticky assignment is stored."""
    own = ab_client.get("/v1/recommendations", params={"customer_id": "c1"}).json()
    other = "control" if own["variant"] == "model" else "model"
    events = [
        {"idempotency_key": "z1", "type": "click", "customer_id": "c1", "variant": "legacy"},
        {"idempotency_key": "z2", "type": "order", "customer_id": "c1", "variant": other, "model_version": "x@1"},
        {"idempotency_key": "z3", "type": "click", "customer_id": "c1", "variant": own["variant"]},
    ]
    r = ab_client.post("/v1/events", json={"events": events})
    assert r.status_code == 200, r.text
    assert [e["variant"] for e in r.json()["results"]] == [own["variant"]] * 3
    frame = ab_client.app.state.service.events.read_events()
    assert set(frame["variant"]) == {own["variant"]} and set(frame["model_version"]) == {own["model_version"]}
    assert set(ab_client.app.state.service.events.read_assignments()["variant"]) == {own["variant"]}
    metrics = ab_client.get("/metrics").text
    assert 'foodrec_event_labels_ignored_total{field="variant"} 2' in metrics
    assert 'foodrec_event_labels_ignored_total{field="model_version"} 1' in metrics


@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": [{"idempotency_key": "k", "type": "like", "customer_id": "c"}]},
        {"events": [{"idempotency_key": "k", "type": "order", "customer_id": "c", "order_value": -1}]},
        {"events": [{"idempotency_key": "", "type": "order", "customer_id": "c"}]},
        {"events": [{"idempotency_key": "k", "type": "order", "customer_id": "c", "surprise": 1}]},
        {"events": [{"idempotency_key": "k", "type": "order", "customer_id": "c", "items": ["a"] * 201}]},
        {"events": [{"idempotency_key": "k\x00", "type": "order", "customer_id": "c"}]},
        {"events": [{"idempotency_key": "k", "type": "order", "customer_id": "c", "occurred_at": 0}]},
        {"events": [{"idempotency_key": "k", "type": "order", "customer_id": "c", "order_value": "3"}]},
        {"nothing": True},
    ],
)
def test_bad_events_are_422_and_nothing_is_stored(client, body):
    r = client.post("/v1/events", json=body)
    assert r.status_code == 422 and r.json()["message"]
    assert client.app.state.service.events.count() == 0


def test_oversized_body_is_refused_with_413(city, tmp_path):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    with TestClient(create_app(state, tmp_path / "e.sqlite", max_body_bytes=2000)) as c:
        events = [{"idempotency_key": f"k{i}", "type": "click", "customer_id": "c1"} for i in range(100)]
        r = c.post("/v1/events", json={"events": events})
        assert r.status_code == 413 and "larger than 2000 bytes" in r.json()["detail"]
        assert c.app.state.service.events.count() == 0
        assert c.post("/v1/events", json={"events": events[:3]}).status_code == 200


def test_health_ready_and_prometheus_metrics_per_variant(ab_client):
    assert ab_client.get("/healthz").json() == {"status": "ok"}
    ready = ab_client.get("/readyz").json()
    assert ready["status"] == "ready" and set(ready["variants"]) == {"control", "model"}
    assert ready["variants"]["model"]["share"] == 0.5
    for c in ("c01", "c02", "c03", "c04", "c05", "c06"):
        ab_client.get("/v1/recommendations", params={"customer_id": c})
    r = ab_client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert "# TYPE foodrec_http_requests_total counter" in text
    assert "# TYPE foodrec_http_request_duration_seconds histogram" in text
    counted = 0
    for variant in ("control", "model"):
        line = (
            f'foodrec_http_requests_total{{route="/v1/recommendations",method="GET",status="200",variant="{variant}"}}'
        )
        counted += sum(int(float(x.split()[-1])) for x in text.splitlines() if x.startswith(line))
    assert counted == 6
    assert (
        'foodrec_http_request_duration_seconds_bucket{route="/v1/recommendations",variant="control",le="+Inf"}' in text
    )
    assert 'foodrec_model_info{variant="model"' in text


def test_admin_routes_need_the_token(client, city, tmp_path):
    assert client.post("/v1/admin/reload").status_code == 401
    assert client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    with TestClient(create_app(state, tmp_path / "e.sqlite")) as no_token:
        r = no_token.post("/v1/admin/reload", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "disabled" in r.json()["detail"]
        bare = no_token.post("/v1/admin/reload")  # no credentials at all: the challenge, saying it is disabled
        assert bare.status_code == 401 and "disabled" in bare.json()["detail"] and bare.headers["www-authenticate"]


def test_reload_swaps_in_a_new_model_version(client, city, tmp_path, order_log):
    from foodrec.serving.fallback import PopularityFallback

    before = client.get("/v1/recommendations", params={"customer_id": "c01"}).json()["model_version"]
    new_model = PopularityFallback().fit(order_log.before("2026-02-10")).save(tmp_path / "model-v2")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = client.post("/v1/admin/reload", json={"variants": {"default": str(new_model)}}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["previous"] == {"default": before}
    after = client.get("/v1/recommendations", params={"customer_id": "c01"}).json()["model_version"]
    assert after != before and after == r.json()["variants"]["default"]["model_version"]
    bad = client.post("/v1/admin/reload", json={"variants": {"default": "no-such-model"}}, headers=auth)
    assert bad.status_code == 409 and "still serving" in bad.json()["detail"]
    assert client.get("/v1/recommendations", params={"customer_id": "c01"}).json()["model_version"] == after
    unknown = client.post("/v1/admin/reload", json={"variants": {"nope": str(new_model)}}, headers=auth)
    assert unknown.status_code == 404 and "unknown variant" in unknown.json()["detail"]


def test_demo_options_and_page(client):
    opts = client.get("/v1/demo/options").json()
    assert "north" in opts["areas"] and len(opts["customers"]) > 5 and opts["variants"] == ["default"]
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text and page.headers["content-type"].startswith("text/html")


def test_restaurant_level_answers_name_restaurants(city, tmp_path):
    state = ServiceState(recommender="area-popularity", store=city["store"], level="restaurant")
    with TestClient(create_app(state, tmp_path / "e.sqlite")) as c:
        body = c.get("/v1/recommendations", params={"customer_id": "c01", "area": "east", "k": 3}).json()
    assert body["level"] == "restaurant"
    first = body["items"][0]
    assert first["item_id"] in ("r2", "r5") and first["name"] in ("Curry House", "Pho Real")
    assert first["restaurant_id"] == first["item_id"] and first["price"] is None


def test_recommendation_parameters_are_documented_in_openapi(client):
    operation = client.get("/openapi.json").json()["paths"]["/v1/recommendations"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"customer_id", "area", "at", "k", "explain"} and not params["explain"]["required"]
    assert params["customer_id"]["required"] and not params["k"]["required"]
    assert params["k"]["schema"]["minimum"] == 1 and params["k"]["schema"]["maximum"] == 100
    assert "RecommendationResponse" in str(operation["responses"]["200"])
