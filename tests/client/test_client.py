"""foodrec.client against a fake transport (httpx.MockTransport): retries, Retry-After, idempotency keys, errors,
typed answers; sync and async alike. The round trip against the real app is tests/serving/test_client_app.py."""

from __future__ import annotations

import asyncio
import doctest
import json
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from foodrec.client import (
    AsyncFoodrecClient,
    ConnectionFailed,
    FoodrecAPIError,
    FoodrecClient,
    RetryPolicy,
    ServiceUnavailable,
    event,
)
from foodrec.client import _core as core
from foodrec.serving.schemas import RecommendationResponse

ANSWER = {
    "request_id": "r1", "customer_id": "c1", "area": "north", "at": "2026-03-01T12:30:00Z", "k": 2,
    "level": "dish", "variant": "model", "model_version": "keras@1", "fallback": False,
    "items": [{"rank": 1, "item_id": "d1", "score": 0.9, "source": "model"},
              {"rank": 2, "item_id": "d2", "score": None, "source": "fallback", "name": "Pho"}],
}  # fmt: skip


class Script:
    """A fake server: answers in turn, recording every request it saw."""

    def __init__(self, *answers: httpx.Response | Exception):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def busy(retry_after: str | None = "1") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(503, json={"detail": "server busy; retry shortly"}, headers=headers)


def sync_client(script: Script, **kwargs) -> tuple[FoodrecClient, list[float]]:
    waits: list[float] = []
    client = FoodrecClient("http://127.0.0.1:1", transport=httpx.MockTransport(script), sleep=waits.append, **kwargs)
    return client, waits


def test_a_503_is_retried_after_the_servers_retry_after_and_the_answer_is_the_servers_model():
    script = Script(busy("1"), busy(None), httpx.Response(200, json=ANSWER))
    client, waits = sync_client(script, retry=RetryPolicy(attempts=4, backoff_s=0.2, max_delay_s=5))
    answer = client.recommendations("c1", area="north", at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC), k=2)
    assert isinstance(answer, RecommendationResponse) and [i.item_id for i in answer.items] == ["d1", "d2"]
    assert answer.items[1].score is None and answer.items[1].source == "fallback"
    assert waits == [1.0, 0.4]  # Retry-After: 1 beat the first backoff (0.2); then the backoff doubled
    query = dict(script.requests[-1].url.params)
    assert query == {"customer_id": "c1", "area": "north", "at": "2026-03-01T12:30:00Z", "k": "2", "explain": "false"}


def test_a_service_that_stays_busy_raises_service_unavailable_after_the_last_attempt():
    script = Script(busy("30"), busy("30"), busy("30"))
    client, waits = sync_client(script, retry=RetryPolicy(attempts=3, backoff_s=0.1, max_delay_s=2))
    with pytest.raises(ServiceUnavailable) as err:
        client.health()
    assert err.value.status == 503 and err.value.detail == "server busy; retry shortly"
    assert waits == [2.0, 2.0] and len(script.requests) == 3  # Retry-After capped at max_delay_s


def test_a_refused_connection_is_retried_then_reported():
    refused = httpx.ConnectError("connection refused")
    client, waits = sync_client(Script(refused, httpx.Response(200, json={"status": "ok"})))
    assert client.health().status == "ok" and waits == [0.2]
    client, _ = sync_client(Script(refused, refused), retry=RetryPolicy(attempts=2))
    with pytest.raises(ConnectionFailed, match="cannot reach the service at http://127.0.0.1:1"):
        client.health()


def test_a_retried_event_batch_sends_the_same_idempotency_keys():
    stored = {"stored": 2, "duplicates": 0, "results": [
        {"idempotency_key": "o-1", "status": "stored", "variant": "model"},
        {"idempotency_key": "x", "status": "stored", "variant": "model"}]}  # fmt: skip
    script = Script(busy(), httpx.Response(200, json=stored))
    client, _ = sync_client(script)
    events = [
        event("order", "c1", items=["d1"], order_value=12.5, idempotency_key="o-1",
              occurred_at=datetime(2026, 3, 1, 12, 33, tzinfo=UTC)),
        {"idempotency_key": "x", "type": "impression", "customer_id": "c1", "items": ["d1", "d2"]},
    ]  # fmt: skip
    result = client.post_events(events)
    assert result.stored == 2 and [r.status for r in result.results] == ["stored", "stored"]
    first, second = (json.loads(r.content) for r in script.requests)
    assert first == second  # the retry is the same batch: the server stores each key once
    assert first["events"][0] == {
        "idempotency_key": "o-1", "type": "order", "customer_id": "c1", "items": ["d1"], "order_value": 12.5,
        "occurred_at": "2026-03-01T12:33:00Z",
    }  # fmt: skip


def test_events_get_fresh_keys_and_invalid_events_fail_before_sending():
    a, b = event("click", "c1", items=["d1"]), event("click", "c1", items=["d1"])
    assert a.idempotency_key != b.idempotency_key and len(a.idempotency_key) == 32
    script = Script()
    client, _ = sync_client(script)
    with pytest.raises(ValidationError):
        client.post_events([{"idempotency_key": "k", "type": "like", "customer_id": "c1"}])
    with pytest.raises(ValidationError):  # a number is not a time, as on the server
        event("order", "c1", occurred_at=0)
    assert script.requests == []


def test_error_answers_carry_status_and_the_servers_one_line_reason():
    invalid = {
        "detail": [{"loc": ["query", "k"], "msg": "too big", "type": "less_than_equal"}],
        "message": "k: too big",
    }
    script = Script(httpx.Response(422, json=invalid), httpx.Response(404, json={"detail": "unknown variant 'x'"}))
    client, waits = sync_client(script, admin_token="t0k")
    with pytest.raises(FoodrecAPIError) as err:
        client.recommendations("c1", k=500)
    assert (
        err.value.status == 422 and err.value.detail == "k: too big" and err.value.body.detail[0].loc == ["query", "k"]
    )
    with pytest.raises(FoodrecAPIError, match="POST /v1/admin/reload answered 404: unknown variant 'x'"):
        client.reload({"x": "runs/model"})
    assert waits == []  # errors other than 503 are not retried
    assert script.requests[1].headers["authorization"] == "Bearer t0k"
    assert "authorization" not in script.requests[0].headers  # the token goes to admin routes only


def test_an_answer_that_does_not_match_the_model_is_an_error_not_a_half_parsed_object():
    client, _ = sync_client(Script(httpx.Response(200, json={**ANSWER, "items": [{"rank": "first"}]})))
    with pytest.raises(FoodrecAPIError, match="does not match RecommendationResponse"):
        client.recommendations("c1")


def test_ids_are_one_path_segment():
    script = Script(httpx.Response(200, json={"customer_id": "a/b", "variant": "v", "level": "dish", "orders": []}))
    client, _ = sync_client(script)
    assert client.customer_orders("a/b", limit=3).orders == []
    assert script.requests[0].url.raw_path == b"/v1/customers/a%2Fb/orders?limit=3"


def test_the_async_client_retries_the_same_way():
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def run() -> list[str]:
        script = Script(busy("2"), httpx.Response(200, json=ANSWER))
        async with AsyncFoodrecClient("http://127.0.0.1:1", transport=httpx.MockTransport(script), sleep=sleep) as api:
            answer = await api.recommendations("c1", k=2)
            with pytest.raises(FoodrecAPIError):
                api._http._transport = httpx.MockTransport(Script(httpx.Response(409, json={"detail": "no"})))
                await api.reload()
        return [item.item_id for item in answer.items]

    assert asyncio.run(run()) == ["d1", "d2"] and waits == [2.0]


def test_retry_after_may_be_an_http_date():
    now = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    assert core.parse_retry_after("Wed, 02 Dec 2026 10:00:03 GMT", now=now) == 3.0
    assert core.parse_retry_after("Wed, 02 Dec 2026 09:00:00 GMT", now=now) == 0.0  # in the past: now
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_docstring_examples():
    result = doctest.testmod(core, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0


def test_the_client_does_not_import_the_server_or_tensorflow():
    heavy = "('fastapi', 'tensorflow', 'keras', 'pandas')"
    code = f"import sys, foodrec.client; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
