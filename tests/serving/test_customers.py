"""The demo page's JSON: a customer's recent orders (``GET /v1/customers/{id}/orders``) and reasons on the
recommendations (``explain=true``), which never go through the response cache or its ASGI fast path."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from foodrec.recommenders.base import Ranking, Recommender
from foodrec.serving.app import create_app
from foodrec.serving.state import ServiceState

AT = "2026-03-02T19:30:00Z"  # after the store's last order


@pytest.fixture()
def client(city, tmp_path):
    state = ServiceState(recommender="customer-history", store=city["store"])
    with TestClient(create_app(state, tmp_path / "events.sqlite")) as c:
        yield c


def _order(client, key, customer, item, area="east"):
    event = {"idempotency_key": key, "type": "order", "customer_id": customer, "items": [item], "area": area,
             "occurred_at": "2026-03-02T19:00:00Z"}  # fmt: skip
    r = client.post("/v1/events", json={"events": [event]})
    assert r.status_code == 200 and r.json()["stored"] == 1, r.text


def _ask(client, explain=None, customer="c05", k=5):
    params = {"customer_id": customer, "area": "east", "at": AT, "k": k}
    if explain is not None:
        params["explain"] = explain
    r = client.get("/v1/recommendations", params=params)
    assert r.status_code == 200, r.text
    return r


def test_recent_orders_newest_first_with_names_and_a_posted_order_on_top(client, order_log):
    r = client.get("/v1/customers/c05/orders", params={"limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["customer_id"] == "c05" and body["variant"] == "default" and body["level"] == "dish"
    mine = order_log.orders[order_log.orders["customer_id"] == "c05"].sort_values("ordered_at", ascending=False)
    assert [o["items"][0]["item_id"] for o in body["orders"]] == mine["item_id"].head(3).tolist()
    first = body["orders"][0]["items"][0]
    assert first["name"] and first["restaurant_name"] and first["price"] > 0
    assert body["orders"][0]["at"] >= body["orders"][1]["at"] >= body["orders"][2]["at"]
    _order(client, "demo-1", "c05", "i52")
    latest = client.get("/v1/customers/c05/orders", params={"limit": 1}).json()["orders"]
    dish = {"item_id": "i52", "name": "Pho dish 2", "restaurant_id": "r5", "restaurant_name": "Pho Real", "price": 14.0}
    assert latest == [{"at": "2026-03-02T19:00:00Z", "items": [dish]}]
    assert client.get("/v1/customers/nobody/orders").json()["orders"] == []  # unknown: no orders, not an error


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/customers/" + "x" * 129 + "/orders", "customer_id: String should have at most 128 characters"),
        ("/v1/customers/a%01b/orders", "customer_id: String should match pattern"),
        ("/v1/customers/%0Aa/orders", "customer_id: String should match pattern"),  # a line break: still routed
        ("/v1/customers//orders", "customer_id: String should have at least 1 character"),
        ("/v1/customers/c05/orders?limit=0", "limit: Input should be greater than or equal to 1"),
        ("/v1/customers/c05/orders?limit=51", "limit: Input should be less than or equal to 50"),
        ("/v1/customers/c05/orders?limit=many", "limit: Value error, must be an integer written in decimal digits"),
        ("/v1/customers/c05/orders?limit=5.0", "limit: Value error, must be an integer written in decimal digits"),
    ],
)
def test_bad_ids_and_limits_are_422_with_one_readable_line(client, path, message):
    r = client.get(path)
    assert r.status_code == 422 and r.json()["message"].startswith(message), r.text


@pytest.mark.parametrize("customer", ["a/b", "ünï cödé", " ", "x" * 128, "%", "../../etc"])
def test_odd_but_valid_ids_are_answered(client, customer):
    from urllib.parse import quote

    r = client.get(f"/v1/customers/{quote(customer, safe='')}/orders")
    assert r.status_code == 200, r.text
    assert r.json()["customer_id"] == customer and r.json()["orders"] == []


def test_explain_adds_reasons_and_bypasses_the_cache_both_ways(client):
    plain = _ask(client)
    assert plain.headers["x-foodrec-cache"] == "miss" and all("reason" not in i for i in plain.json()["items"])
    explained = _ask(client, "true")
    assert explained.headers["x-foodrec-cache"] == "bypass"  # the cached answer above is not used...
    items = explained.json()["items"]
    assert [i["item_id"] for i in items] == [i["item_id"] for i in plain.json()["items"]]
    assert all(i["reason"].startswith(("you ordered it before (", "popular in east")) for i in items), items
    again = _ask(client)  # ...and the explained one is not stored: the plain query string is answered from cache
    assert again.headers["x-foodrec-cache"] == "hit" and all("reason" not in i for i in again.json()["items"])
    assert _ask(client, "true").headers["x-foodrec-cache"] == "bypass"  # never remembered for the fast path
    assert _ask(client, "false").headers["x-foodrec-cache"] == "hit"


def test_an_order_changes_the_reason(client):
    items = _ask(client, "true", k=24).json()["items"]
    fresh = next(i for i in items if not i["reason"].startswith("you ordered"))
    _order(client, "demo-2", "c05", fresh["item_id"])
    after = {i["item_id"]: i["reason"] for i in _ask(client, "true", k=24).json()["items"]}
    assert after[fresh["item_id"]] == "you ordered it before (1 time)"


def test_fallback_items_are_popular_nearby_and_a_failing_explain_leaves_reasons_out(city, tmp_path):
    class OneItem(Recommender):
        name = "one-item"

        def fit(self, log):
            return self

        def recommend(self, queries, k=10):
            items = np.full((len(queries), k), None, dtype=object)
            scores = np.full((len(queries), k), -np.inf)
            items[:, 0], scores[:, 0] = "i52", 9.0
            return Ranking(items, scores)

        def explain(self, queries, items):
            if queries["customer_id"][0] == "broken":
                raise RuntimeError("no reasons today")
            return [["because"] * len(row) for row in items]

        def save_state(self, directory): ...

        @classmethod
        def load_state(cls, directory, manifest): ...

    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    object.__setattr__(state.snapshot.models["default"], "recommender", OneItem(level="dish"))
    with TestClient(create_app(state, tmp_path / "e.sqlite")) as c:
        params = {"customer_id": "c01", "area": "north", "at": AT, "k": 3, "explain": "true"}
        items = c.get("/v1/recommendations", params=params).json()["items"]
        assert [(i["source"], i["reason"]) for i in items] == [
            ("model", "because"), ("fallback", "popular nearby"), ("fallback", "popular nearby")
        ]  # fmt: skip
        items = c.get("/v1/recommendations", params={**params, "customer_id": "broken"}).json()["items"]
        assert [i["reason"] for i in items] == [None, "popular nearby", "popular nearby"]


def test_the_page_options_give_the_time_resolution(client):
    assert client.get("/v1/demo/options").json()["time_resolution_s"] == 300
