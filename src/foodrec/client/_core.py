"""What the sync and async clients share: requests built from the server's models, answers parsed into them,
errors, and the retry policy (503 and connection failures, backoff, ``Retry-After``).

Nothing here sends a request; :mod:`foodrec.client._sync` and :mod:`foodrec.client._async` do, the same way.

>>> policy = RetryPolicy(attempts=4, backoff_s=0.2, max_delay_s=5.0)
>>> [policy.delay(i, None) for i in range(3)]       # exponential backoff without a Retry-After
[0.2, 0.4, 0.8]
>>> policy.delay(0, "2")                             # the server's Retry-After (seconds) wins when longer
2.0
>>> policy.delay(0, "120")                           # ... up to max_delay_s
5.0
"""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from foodrec.serving.schemas import (
    ErrorResponse,
    EventBatch,
    EventIn,
    ValidationErrorResponse,
)

Model = TypeVar("Model", bound=BaseModel)
USER_AGENT = "foodrec-client"


class FoodrecAPIError(Exception):
    """The service answered with an error status. ``status`` is the HTTP status, ``detail`` its one-line reason,
    ``body`` the parsed error body (:class:`ErrorResponse` or :class:`ValidationErrorResponse`) when it had one."""

    def __init__(self, method: str, path: str, status: int, detail: str, body: BaseModel | None = None):
        super().__init__(f"{method} {path} answered {status}: {detail}")
        self.method, self.path, self.status, self.detail, self.body = method, path, status, detail, body


class ServiceUnavailable(FoodrecAPIError):
    """Still 503 after every retry (the server is overloaded or its event store is down)."""


class ConnectionFailed(Exception):
    """The service could not be reached (after every retry)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 503 answers and failed connections: ``attempts`` tries in all, waiting ``backoff_s * 2**i``
    before retry ``i`` (or the server's ``Retry-After`` when longer), never more than ``max_delay_s``.

    Every route of the API is safe to retry: reads are reads, events carry idempotency keys (a retried batch
    that did commit comes back as ``duplicate``) and a reload of the same models is the same reload.
    """

    attempts: int = 4
    backoff_s: float = 0.2
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.max_delay_s < 0:
            raise ValueError("attempts must be >= 1, backoff_s and max_delay_s >= 0")

    def delay(self, retry: int, retry_after: str | None) -> float:
        """Seconds to wait before retry number ``retry`` (0 = the first retry)."""
        wait = self.backoff_s * 2**retry
        server = parse_retry_after(retry_after)
        if server is not None:
            wait = max(wait, server)
        return min(wait, self.max_delay_s)


NO_RETRIES = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None when absent or unreadable.

    >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("soon")
    (3.0, None, None)
    >>> parse_retry_after("Wed, 02 Dec 2026 10:00:05 GMT", now=datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC))
    5.0
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def new_idempotency_key() -> str:
    """A fresh random key (32 hex digits) for an event that has no natural id of its own."""
    return uuid.uuid4().hex


def event(
    type: str,
    customer_id: str,
    *,
    idempotency_key: str | None = None,
    items: Sequence[str] = (),
    request_id: str | None = None,
    order_value: float | None = None,
    area: str | None = None,
    occurred_at: datetime | str | None = None,
    **extra: Any,
) -> EventIn:
    """An :class:`EventIn`, validated here, with a fresh idempotency key unless one is given.

    Give a key derived from something stable (an order id, ``f"{request_id}-imp"``) when the same event may be
    produced twice, e.g. by a process that restarts: the server then stores it once.

    >>> e = event("order", "c42", items=["d7"], order_value=12.5, idempotency_key="o-1001")
    >>> e.idempotency_key, e.type, e.items
    ('o-1001', 'order', ['d7'])
    >>> len(event("impression", "c42", items=["d7", "d9"]).idempotency_key)
    32
    """
    fields: dict[str, Any] = {
        "idempotency_key": idempotency_key or new_idempotency_key(),
        "type": type,
        "customer_id": customer_id,
        "items": list(items),
        "request_id": request_id,
        "order_value": order_value,
        "area": area,
        "occurred_at": occurred_at,
        **extra,
    }
    return EventIn.model_validate({k: v for k, v in fields.items() if v is not None})


def as_events(events: Sequence[EventIn | Mapping[str, Any]]) -> EventBatch:
    """A validated batch: :class:`EventIn` as they are, mappings validated into them (a bad event raises
    pydantic's ValidationError here, before anything is sent)."""
    return EventBatch(events=[e if isinstance(e, EventIn) else EventIn.model_validate(dict(e)) for e in events])


def batch_json(batch: EventBatch) -> dict[str, Any]:
    """The JSON body of ``POST /v1/events`` (unset fields left out, times in RFC 3339)."""
    return batch.model_dump(mode="json", exclude_none=True)


def query_params(**params: Any) -> dict[str, str]:
    """Query-string values as the API reads them: times in RFC 3339 UTC, booleans as true/false, None left out.

    >>> query_params(customer_id="c1", area=None, at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC), k=5, explain=False)
    {'customer_id': 'c1', 'at': '2026-03-01T12:30:00Z', 'k': '5', 'explain': 'false'}
    """
    out = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = format_time(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[name] = str(value)
    return out


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (a naive ``datetime`` is taken as UTC, as the server's models do)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def parse(method: str, path: str, response: httpx.Response, model: type[Model]) -> Model:
    """The answer as ``model``, or :class:`FoodrecAPIError` for an error status."""
    if response.status_code >= 400:
        raise api_error(method, path, response)
    try:
        return model.model_validate_json(response.content)
    except ValidationError as err:
        raise FoodrecAPIError(
            method, path, response.status_code, f"the answer does not match {model.__name__}: {err.errors()[0]}"
        ) from err


def api_error(method: str, path: str, response: httpx.Response) -> FoodrecAPIError:
    body: BaseModel | None = None
    detail = response.text[:200] or response.reason_phrase
    for error_model in (ValidationErrorResponse, ErrorResponse):
        try:
            body = error_model.model_validate_json(response.content)
        except ValidationError:
            continue
        detail = body.message if isinstance(body, ValidationErrorResponse) else body.detail
        break
    kind = ServiceUnavailable if response.status_code == 503 else FoodrecAPIError
    return kind(method, path, response.status_code, detail, body)


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one path segment (ids may hold ``/``).

    >>> path_segment("c/42 x")
    'c%2F42%20x'
    """
    return quote(value, safe="")
