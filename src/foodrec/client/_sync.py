"""The blocking client: :class:`FoodrecClient`.

>>> with FoodrecClient("http://127.0.0.1:8000") as api:                        # doctest: +SKIP
...     answer = api.recommendations("c042", area="syn-1-2", k=5)
...     shown = [item.item_id for item in answer.items]
...     api.post_events([event("impression", "c042", items=shown, request_id=answer.request_id)])
EventsResponse(stored=1, duplicates=0, results=[...])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from foodrec.client._core import (
    USER_AGENT,
    ConnectionFailed,
    Model,
    RetryPolicy,
    api_error,
    as_events,
    batch_json,
    event,  # noqa: F401 - re-exported for the docstring's example
    parse,
    path_segment,
    query_params,
)
from foodrec.serving.schemas import (
    CustomerOrders,
    DemoOptions,
    EventIn,
    EventsResponse,
    Health,
    Rankings,
    Readiness,
    RecommendationResponse,
    ReloadRequest,
    ReloadResponse,
)


class FoodrecClient:
    """A typed client of the foodrec HTTP API; answers are the server's own pydantic models.

    Args:
        base_url: the service, e.g. ``http://127.0.0.1:8000``.
        admin_token: the server's ``--admin-token``, sent as a bearer token to ``/v1/admin`` routes only.
        timeout: seconds per request.
        retry: which failures are retried and how long to wait (:class:`RetryPolicy`).
        transport: an httpx transport, e.g. ``httpx.MockTransport(handler)`` in tests.
        sleep: how to wait between retries (tests pass a fake clock).

    Errors: :class:`FoodrecAPIError` for an error answer (``.status``, ``.detail``), :class:`ServiceUnavailable`
    when the service is still busy after every retry, :class:`ConnectionFailed` when it cannot be reached,
    pydantic's ``ValidationError`` for an event that is invalid before it is sent.
    """

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._admin_token = admin_token
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, headers={"User-Agent": USER_AGENT}
        )

    # -- the API ---------------------------------------------------------------------------------------
    def recommendations(
        self, customer_id: str, *, area: str | None = None, at: datetime | None = None, k: int = 10,
        explain: bool = False,
    ) -> RecommendationResponse:  # fmt: skip
        """``GET /v1/recommendations``: ``k`` ranked items for the customer at ``at`` (default: now)."""
        params = query_params(customer_id=customer_id, area=area, at=at, k=k, explain=explain)
        return self._get("/v1/recommendations", RecommendationResponse, params)

    def post_events(self, events: Sequence[EventIn | Mapping[str, Any]]) -> EventsResponse:
        """``POST /v1/events``: impressions, clicks and orders, each stored once per idempotency key (a retry
        after a lost answer is safe: the keys come back ``duplicate``). Build events with :func:`event`."""
        body = batch_json(as_events(events))
        return parse("POST", "/v1/events", self.request("POST", "/v1/events", json=body), EventsResponse)

    def customer_orders(self, customer_id: str, *, limit: int = 5) -> CustomerOrders:
        """``GET /v1/customers/{id}/orders``: the customer's recent orders, newest first."""
        path = f"/v1/customers/{path_segment(customer_id)}/orders"
        return self._get(path, CustomerOrders, {"limit": str(limit)})

    def health(self) -> Health:
        """``GET /healthz``: the process answers."""
        return self._get("/healthz", Health)

    def ready(self) -> Readiness:
        """``GET /readyz``: models loaded and the event store answers (a 503 answer is returned as it is,
        ``status="not ready"``, not raised)."""
        response = self.request("GET", "/readyz", retry_503=False)
        if response.status_code == 503:
            return Readiness.model_validate_json(response.content)
        return parse("GET", "/readyz", response, Readiness)

    def demo_options(self) -> DemoOptions:
        """``GET /v1/demo/options``: example customers and areas."""
        return self._get("/v1/demo/options", DemoOptions)

    def reload(self, variants: Mapping[str, str] | None = None) -> ReloadResponse:
        """``POST /v1/admin/reload`` (needs ``admin_token``): load new models for some variants (variant ->
        baseline name or model path), or reload every variant and the A/B file when ``variants`` is None."""
        body = ReloadRequest(variants=dict(variants or {})).model_dump(mode="json")
        response = self.request("POST", "/v1/admin/reload", json=body)
        return parse("POST", "/v1/admin/reload", response, ReloadResponse)

    def rankings(
        self, customer_id: str, *, area: str | None = None, at: datetime | None = None, k: int = 10,
        variants: Sequence[str] | None = None,
    ) -> Rankings:  # fmt: skip
        """``GET /v1/admin/rankings`` (needs ``admin_token``): every variant's own list for one visit, ranked at
        the same time slot as ``recommendations`` (paired ground truth; not an exposure, never cached)."""
        params: dict[str, Any] = query_params(customer_id=customer_id, area=area, at=at, k=k)
        if variants:
            params["variant"] = list(variants)
        return self._get("/v1/admin/rankings", Rankings, params)

    # -- plumbing --------------------------------------------------------------------------------------
    def _get(self, path: str, model: type[Model], params: Mapping[str, Any] | None = None) -> Model:
        return parse("GET", path, self.request("GET", path, params=params), model)

    def request(self, method: str, path: str, *, retry_503: bool = True, **kwargs: Any) -> httpx.Response:
        """Send one request with retries; returns the last response (any status). The admin token goes to
        ``/v1/admin`` paths only."""
        if self._admin_token and path.startswith("/v1/admin"):
            kwargs["headers"] = {"Authorization": f"Bearer {self._admin_token}", **kwargs.get("headers", {})}
        attempts = self.retry.attempts
        for attempt in range(attempts):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as err:
                if attempt + 1 < attempts and isinstance(err, httpx.ConnectError | httpx.RemoteProtocolError):
                    self._sleep(self.retry.delay(attempt, None))
                    continue
                raise ConnectionFailed(f"cannot reach the service at {self.base_url} ({err})") from err
            if response.status_code == 503 and retry_503 and attempt + 1 < attempts:
                self._sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def raise_for_status(self, method: str, path: str, response: httpx.Response) -> None:
        """:class:`FoodrecAPIError` when ``response`` is an error answer."""
        if response.status_code >= 400:
            raise api_error(method, path, response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FoodrecClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
