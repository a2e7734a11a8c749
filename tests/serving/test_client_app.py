"""foodrec.client against the real app: every method round-trips through the server's own models, the async
client in-process (ASGI), the sync one over TCP; the load guard's 503 is retried and then reported."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from foodrec.client import AsyncFoodrecClient, FoodrecAPIError, FoodrecClient, RetryPolicy, ServiceUnavailable, event
from foodrec.serving.app import create_app
from foodrec.serving.state import ServiceState

TOKEN = "client-token"
AT = datetime(2026, 3, 2, 19, 30, tzinfo=UTC)  # after the fixture log


def test_the_sync_client_over_tcp(city, tmp_path, live_server):
    app = create_app(ServiceState(recommender=str(city["model"]), store=city["store"]), tmp_path / "e.sqlite",
                     admin_token=TOKEN)  # fmt: skip
    with live_server(app) as server, FoodrecClient(server.url, admin_token=TOKEN) as api:
        assert api.health().status == "ok" and api.ready().status == "ready"
        answer = api.recommendations("c01", area="north", at=AT, k=3, explain=True)
        assert answer.k == 3 and len(answer.items) == 3 and answer.at == AT and all(i.reason for i in answer.items)
        shown = [item.item_id for item in answer.items]
        paired = api.rankings("c01", area="north", at=AT, k=3)  # every variant's list for the same visit
        assert paired.variants["default"].items == shown and paired.slot <= AT
        with pytest.raises(FoodrecAPIError) as err:
            api.rankings("c01", at=AT, variants=["nope"])
        assert err.value.status == 404
        batch = [
            event("impression", "c01", items=shown, request_id=answer.request_id, idempotency_key="imp-1"),
            event("order", "c01", items=shown[:1], order_value=11.5, idempotency_key="order-1", area="north",
                  occurred_at=AT),
        ]  # fmt: skip
        first, again = api.post_events(batch), api.post_events(batch)
        assert (first.stored, again.duplicates) == (2, 2)
        orders = api.customer_orders("c01", limit=2)
        assert orders.orders[0].items[0].item_id == shown[0]  # the posted order is the newest
        assert "north" in api.demo_options().areas
        assert api.reload().previous == {"default": answer.model_version}
        with pytest.raises(FoodrecAPIError) as err:
            api.reload({"nope": str(city["model"])})
        assert err.value.status == 404 and "unknown variant" in err.value.detail
        with pytest.raises(FoodrecAPIError) as err:
            api.recommendations("c01", k=101)
        assert err.value.status == 422 and err.value.detail.startswith("k:")


def test_the_async_client_in_process(city, tmp_path):
    app = create_app(ServiceState(recommender=str(city["model"]), store=city["store"]), tmp_path / "e.sqlite")

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncFoodrecClient("http://test", transport=transport) as api:
            answers = await asyncio.gather(*(api.recommendations(f"c{i:02d}", at=AT, k=4) for i in range(6)))
            stored = await api.post_events([event("click", "c01", items=[answers[1].items[0].item_id])])
            assert stored.stored == 1
            return [len(a.items) for a in answers]

    assert asyncio.run(run()) == [4] * 6


def test_the_guards_503_is_retried_then_reported(city, tmp_path):
    app = create_app(
        ServiceState(recommender=str(city["model"]), store=city["store"]), tmp_path / "e.sqlite", max_in_flight=0
    )  # fmt: skip  every guarded request is refused with Retry-After: 1
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with AsyncFoodrecClient("http://test", transport=transport, sleep=sleep,
                                      retry=RetryPolicy(attempts=3, backoff_s=0.1)) as api:  # fmt: skip
            assert (await api.health()).status == "ok"  # probes are never shed
            with pytest.raises(ServiceUnavailable, match="server busy"):
                await api.recommendations("c01")

    asyncio.run(run())
    assert waits == [1.0, 1.0]  # the server's Retry-After, longer than the backoff
