"""The FastAPI application: routers per concern, one guard middleware, clear 422s.

>>> from foodrec.serving.state import ServiceState
>>> state = ServiceState(recommender="runs/model", store="runs/store")   # doctest: +SKIP
>>> app = create_app(state, events="events.sqlite")                      # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)  -- `foodrec serve` does this
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from foodrec.serving.batching import MicroBatcher
from foodrec.serving.cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, DEFAULT_RESOLUTION_S, ResponseCache
from foodrec.serving.contract import declare_common_responses
from foodrec.serving.deps import Service
from foodrec.serving.events import EventStore, open_event_store
from foodrec.serving.metrics import BATCH_BUCKETS, Metrics
from foodrec.serving.routers import admin, customers, health, page, rankings, recommendations
from foodrec.serving.routers import events as events_routes
from foodrec.serving.state import Query, ServiceState, rank_batch

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Probes and metrics are answered even when the server sheds load, so operators can see why.
UNGUARDED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class GuardMiddleware:
    """Pure ASGI middleware: caps requests in flight (503), bounds bodies (413), records metrics.

    The body of POST/PUT/PATCH is read up front up to the limit (bodies here are small JSON), so an
    oversized body is refused before the app sees a byte of it, chunked or not.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service = self.service
        start = perf_counter()
        answer = {"status": 500, "variant": ""}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for key, value in message.get("headers", ()):
                    if key == b"x-foodrec-variant":
                        answer["variant"] = value.decode("latin-1")
            await send(message)

        guarded = scope["path"] not in UNGUARDED_PATHS
        if guarded and service.in_flight >= service.max_in_flight:
            await self._refuse(
                scope,
                send_and_record,
                503,
                f"server busy: {service.in_flight} requests in flight; retry shortly",
                "concurrency limit",
            )
            return
        service.in_flight += 1
        try:
            if scope["method"] in BODY_METHODS or _content_length(scope) is not None:
                body = await self._read_body(scope, receive)
                if body is None:
                    await self._refuse(
                        scope,
                        send_and_record,
                        413,
                        f"request body larger than {service.max_body_bytes} bytes",
                        "body too large",
                    )
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_and_record)
        finally:
            service.in_flight -= 1
            route = scope.get("route")
            service.metrics.request(
                getattr(route, "path", "unmatched"),
                scope["method"],
                answer["status"],
                answer["variant"],
                perf_counter() - start,
            )

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        limit = self.service.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str, reason: str) -> None:
        self.service.metrics.inc("foodrec_http_requests_shed_total", reason=reason)
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 503:
            headers.append((b"retry-after", b"1"))
        if status == 413:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.service.metrics.request("refused", scope["method"], status, "", 0.0)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with the usual ``detail`` list plus one readable ``message`` line (inputs are not echoed)."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        errors.append({"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))})
    where = [".".join(p for p in e["loc"] if p not in ("body", "query", "path")) or "request" for e in errors]
    message = (
        "; ".join(f"{w}: {e['msg']}" for w, e in list(zip(where, errors, strict=True))[:5]) if errors else "invalid"
    )
    return JSONResponse({"detail": errors, "message": message}, status_code=422)


def _run_batch(model: Any, payloads: list[tuple[Query, Any]]) -> list[Any]:
    return rank_batch(model, payloads[0][1], [query for query, _ in payloads])


def _write_events(store: EventStore, payloads: list[list[Any]]) -> list[list[bool]]:
    stored = store.write([event for events in payloads for event in events])
    results, start = [], 0
    for events in payloads:
        results.append(stored[start : start + len(events)])
        start += len(events)
    return results


def create_app(
    state: ServiceState,
    events: EventStore | str | os.PathLike[str],
    *,
    admin_token: str | None = None,
    max_in_flight: int = 256,
    max_body_bytes: int = 1 << 20,
    max_batch: int = 64,
    max_queue: int = 1024,
    recommend_timeout_s: float = 10.0,
    cache_entries: int = DEFAULT_MAX_ENTRIES,
    time_resolution_s: int = DEFAULT_RESOLUTION_S,
    cache_bytes: int = DEFAULT_MAX_BYTES,
    sync_interval_s: float = 0.0,
) -> FastAPI:
    """The service app. ``events`` is an open :class:`EventStore` or a path/URL (then the app owns and closes it).

    Rankings are computed per ``time_resolution_s`` slot and the last ``cache_entries`` answers are kept
    (0 = rank every request), within ``cache_bytes``; see :mod:`foodrec.serving.cache`. With ``sync_interval_s``
    > 0 the app polls the event store that often for the orders and reloads of other processes serving from it
    (:mod:`foodrec.serving.sync`; ``foodrec serve --workers N``).
    """
    cache = ResponseCache(cache_entries, time_resolution_s, max_bytes=cache_bytes)
    owns_store = not isinstance(events, EventStore)
    store = open_event_store(events) if owns_store else events
    state.bind_events(store)  # orders the service saw before a restart are in every variant's features again
    metrics = Metrics()
    batcher = MicroBatcher(
        _run_batch,
        max_batch=max_batch,
        max_pending=max_queue,
        on_batch=lambda n: metrics.observe("foodrec_recommend_batch_size", n, buckets=BATCH_BUCKETS),
    )
    # Group commit: events of requests that arrive while a transaction commits share the next one.
    event_writer = MicroBatcher(_write_events, max_batch=64, max_pending=max_queue)
    service = Service(
        state, store, metrics, batcher, event_writer, admin_token or None, max_in_flight, max_body_bytes,
        recommend_timeout_s, cache,
    )  # fmt: skip
    metrics.gauge("foodrec_http_requests_in_flight", lambda: {(): service.in_flight})
    metrics.gauge(
        "foodrec_recommendation_cache_requests_total",
        lambda: {(("result", "hit"),): cache.hits, (("result", "miss"),): cache.misses},
    )
    metrics.gauge("foodrec_recommendation_cache_entries", lambda: {(): len(cache)})
    metrics.gauge("foodrec_recommendation_cache_bytes", lambda: {(): cache.nbytes})
    metrics.gauge(
        "foodrec_model_info",
        lambda: {
            (("variant", m.variant), ("model_version", m.version), ("recommender", m.source)): 1
            for m in service.state.snapshot.models.values()
        },
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if sync_interval_s > 0:
            from foodrec.serving.sync import WorkerSync

            service.sync = WorkerSync(service, sync_interval_s)
            service.sync.start()
        yield
        if service.sync is not None:
            await service.sync.stop()
        batcher.close()
        event_writer.close()
        if owns_store:
            store.close()

    from foodrec import __version__

    app = FastAPI(
        title="foodrec",
        version=__version__,
        summary="Recommendations for a food-delivery app, with sticky A/B assignment and an event log.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_exception_handler(RequestValidationError, _validation_error)
    for module in (recommendations, events_routes, customers, health, admin, rankings, page):
        app.include_router(module.router)
    declare_common_responses(app, unguarded=UNGUARDED_PATHS)  # 422/400/413/401/403/503 in the OpenAPI schema
    app.add_middleware(recommendations.CachedAnswers, service=service)  # inside the guard: limits and metrics apply
    app.add_middleware(GuardMiddleware, service=service)
    return app
