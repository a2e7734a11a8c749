"""A typed Python client of the foodrec HTTP API, sync and async, on httpx.

Requests and answers are the server's own pydantic models (:mod:`foodrec.serving.schemas`, which needs only
pydantic: no FastAPI, no TensorFlow), so the client and the service cannot drift apart. 503 answers and refused
connections are retried with exponential backoff, honouring the server's ``Retry-After``; events carry
idempotency keys, so a retried batch is stored once.

>>> from foodrec.client import FoodrecClient, event
>>> with FoodrecClient("http://127.0.0.1:8000") as api:                         # doctest: +SKIP
...     answer = api.recommendations("c042", area="syn-1-2", k=5)
...     shown = [item.item_id for item in answer.items]
...     api.post_events([
...         event("impression", "c042", items=shown, request_id=answer.request_id),
...         event("order", "c042", items=shown[:1], order_value=14.5, idempotency_key="order-7731"),
...     ]).stored
2

Async, many requests at once::

    async with AsyncFoodrecClient("http://127.0.0.1:8000") as api:
        answers = await asyncio.gather(*(api.recommendations(c) for c in customers))

Admin routes need the server's token: ``FoodrecClient(url, admin_token="...").reload({"model": "runs/v2"})``.
Errors: :class:`FoodrecAPIError` (``.status``, ``.detail``, ``.body``), :class:`ServiceUnavailable` (still 503
after the retries), :class:`ConnectionFailed`.
"""

from foodrec.client._async import AsyncFoodrecClient
from foodrec.client._core import (
    NO_RETRIES,
    ConnectionFailed,
    FoodrecAPIError,
    RetryPolicy,
    ServiceUnavailable,
    event,
    new_idempotency_key,
    parse_retry_after,
)
from foodrec.client._sync import FoodrecClient

__all__ = [
    "NO_RETRIES",
    "AsyncFoodrecClient",
    "ConnectionFailed",
    "FoodrecAPIError",
    "FoodrecClient",
    "RetryPolicy",
    "ServiceUnavailable",
    "event",
    "new_idempotency_key",
    "parse_retry_after",
]
