"""Serving replicas as separate hosts would run them: two ``foodrec serve`` processes on two ports (standing for two
machines behind a load balancer, docs/scaling.md), one PostgreSQL event store, one A/B file and model.

A round-robin client (what nginx or HAProxy does) sends each request to the next replica; a retried event goes
to the other one. Every event lands once, every customer sees one variant on both, both serve the same model
version, and an order or a reload told to one reaches the other through the store (``--sync-interval``)."""

from __future__ import annotations

import itertools
import json
import time

import httpx

AT = "2026-03-02T12:30:00Z"  # after the store's last order (the fixture log spans February 2026)


def _wait(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _served(client: httpx.Client) -> dict[str, tuple]:
    """Each variant's recommender, model version, level and share, as /readyz tells them."""
    variants = client.get("/readyz").json()["variants"]
    return {name: (v["recommender"], v["model_version"], v["level"], v["share"]) for name, v in variants.items()}


def test_two_replicas_behind_one_round_robin_share_events_variants_and_version(
    city, tmp_path, serve_process, pg_schema_url
):
    ab = tmp_path / "ab.json"
    variants = {"control": "customer-history", "model": str(city["model"])}
    ab.write_text(json.dumps({"salt": "replicas", "variants": variants, "split": {"control": 0.5, "model": 0.5}}))
    args = ["--ab", str(ab), "--store", str(city["store"]), "--events", pg_schema_url, "--admin-token", "t",
            "--sync-interval", "0.2"]  # fmt: skip
    replicas = [serve_process(*args), serve_process(*args)]
    clients = [httpx.Client(base_url=r.url, timeout=10) for r in replicas]
    balancer = itertools.cycle(range(2))
    try:
        assert _served(clients[0]) == _served(clients[1])  # the same variants, recommenders and model versions
        seen: dict[str, set[str]] = {}
        stored = duplicates = 0
        customers = [f"c{i:02d}" for i in range(40)] + [f"walk-in-{i}" for i in range(10)]
        for n, customer in enumerate(customers):
            for _ in range(2):  # two visits: the balancer sends them to different replicas
                answer = clients[next(balancer)].get("/v1/recommendations",
                                                     params={"customer_id": customer, "at": AT, "k": 5})  # fmt: skip
                assert answer.status_code == 200, answer.text
                seen.setdefault(customer, set()).add(answer.json()["variant"])
            event = {"idempotency_key": f"order-{n}", "type": "order", "customer_id": customer, "items": ["i00"],
                     "area": "north", "occurred_at": "2026-03-02T11:00:00Z", "order_value": 8.0}  # fmt: skip
            first = next(balancer)
            for replica in (first, 1 - first):  # the client retries on the other replica (a lost answer)
                result = clients[replica].post("/v1/events", json={"events": [event]}).json()
                stored += result["stored"]
                duplicates += result["duplicates"]
        assert all(len(variants) == 1 for variants in seen.values()), seen
        assert len({next(iter(v)) for v in seen.values()}) == 2  # both arms are in use
        assert (stored, duplicates) == (len(customers), len(customers))
        from foodrec.serving.events import open_event_store

        with open_event_store(pg_schema_url) as store:
            events = store.read_events()
            assignments = store.read_assignments()
        assert len(events) == len(customers) and events["event_id"].is_unique
        assert (assignments.groupby("customer_id")["variant"].nunique() == 1).all()
        by_customer = {c: next(iter(v)) for c, v in seen.items()}
        assert (events.set_index("customer_id")["variant"].to_dict()) == by_customer  # the arm it was served

        # An order told to replica 0 reaches replica 1's features at its next poll of the store.
        def first_items(i: int) -> str:
            answer = clients[i].get("/v1/recommendations", params={"customer_id": "fresh-1", "area": "north",
                                                                   "at": AT, "k": 5})  # fmt: skip
            return answer.json()["items"][0]["item_id"]

        event = {"idempotency_key": "fresh-order", "type": "order", "customer_id": "fresh-1", "items": ["i52"],
                 "area": "north", "occurred_at": "2026-03-02T11:00:00Z"}  # fmt: skip
        assert clients[0].post("/v1/events", json={"events": [event]}).json()["stored"] == 1
        assert _wait(lambda: first_items(1) == "i52"), first_items(1)
        assert first_items(0) == "i52"
        # A reload told to replica 1 reaches replica 0: the same new version on both.
        reload = clients[1].post("/v1/admin/reload", headers={"Authorization": "Bearer t"},
                                 json={"variants": {"control": "area-popularity"}})  # fmt: skip
        assert reload.status_code == 200, reload.text
        assert _served(clients[1])["control"][0] == "area-popularity"
        assert _wait(lambda: _served(clients[0]) == _served(clients[1])), (_served(clients[0]), _served(clients[1]))
    finally:
        for c in clients:
            c.close()
