"""``POST /v1/events``: impressions, clicks and orders; each idempotency key is stored once.

A stored order (its idempotency key is the order id) is folded into every variant's features before the answer
goes out, so the customer's next recommendation reflects it.

The answer comes after the events' transaction committed: an acknowledged event is durable. Requests
arriving while a transaction commits are written together in the next one (group commit).

``variant`` and ``model_version`` are the server's: the customer's sticky assignment and the version serving it
now. A client-sent value that disagrees is ignored (counted in ``foodrec_event_labels_ignored_total``), so no
client can move its events into another arm of the A/B analysis; the answer says which variant was stored. In an
interleaving experiment the variant is ``interleaved``, and ``credits`` (the ``team`` of each item, as the
response gave it) are stored with the event; credits that do not name one interleaved variant per item are
refused (409: the request is well formed but does not fit the running experiment).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pandas as pd
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from foodrec.serving.ab import INTERLEAVED, ABConfig
from foodrec.serving.batching import Overloaded
from foodrec.serving.deps import Service, get_service
from foodrec.serving.events import Event
from foodrec.serving.interleave import interleaved_version
from foodrec.serving.schemas import ErrorResponse, EventBatch, EventResult, EventsResponse
from foodrec.serving.state import event_order_lines

router = APIRouter(prefix="/v1", tags=["events"])
EVENT_WRITE_TIMEOUT_S = 30.0
log = logging.getLogger("foodrec.serving")


@router.post(
    "/events",
    response_model=EventsResponse,
    responses={
        409: {"model": ErrorResponse, "description": "credits that do not fit the running experiment: nothing stored"},
        503: {"model": ErrorResponse, "description": "the event store is unavailable: nothing was stored"},
    },
    summary="Record impressions, clicks and orders (idempotent by key)",
)
async def post_events(
    batch: EventBatch, response: Response, service: Service = Depends(get_service)
) -> EventsResponse | JSONResponse:
    snapshot = service.state.snapshot
    received = datetime.now(UTC)
    refused = credit_problem(snapshot.ab, batch)
    if refused:
        return JSONResponse({"detail": refused}, 409)
    events = []
    for e in batch.events:
        if snapshot.ab.interleave:
            variant, version = INTERLEAVED, interleaved_version(snapshot)
        else:
            variant = snapshot.ab.assign(e.customer_id)
            model = snapshot.models.get(variant)
            version = model.version if model is not None else None
        if e.variant is not None and e.variant != variant:
            service.metrics.inc("foodrec_event_labels_ignored_total", field="variant")
        if e.model_version is not None and e.model_version != version:
            service.metrics.inc("foodrec_event_labels_ignored_total", field="model_version")
        events.append(
            Event(
                event_id=e.idempotency_key,
                type=e.type,
                customer_id=e.customer_id,
                variant=variant,
                items=tuple(e.items),
                order_value=e.order_value,
                request_id=e.request_id,
                model_version=version,
                area=e.area,
                occurred_at=e.occurred_at or received,
                received_at=received,
                credits=tuple(e.credits) if e.credits is not None else None,
            )
        )
    try:
        # A retry after a timeout is safe: if the write did commit meanwhile, the keys come back "duplicate".
        stored = await service.event_writer.submit(service.events, events, timeout=EVENT_WRITE_TIMEOUT_S)
    except (Overloaded, TimeoutError) as err:
        service.metrics.inc("foodrec_http_requests_shed_total", reason="event queue full")
        return JSONResponse({"detail": f"server busy ({err}); retry shortly"}, 503, headers={"Retry-After": "1"})
    except Exception as err:  # noqa: BLE001 - a database error: nothing was acknowledged, the client retries
        log.error("event store write failed: %s", err)
        return JSONResponse({"detail": f"event store unavailable, nothing stored: {type(err).__name__}"}, 503)
    orders = [event for event, ok in zip(events, stored, strict=True) if ok and event.type == "order"]
    if orders:
        await _fold_in(service, orders)
    variants = {event.variant for event in events}
    if len(variants) == 1:
        response.headers["X-Foodrec-Variant"] = next(iter(variants))
    results = []
    for event, ok in zip(events, stored, strict=True):
        result = "stored" if ok else "duplicate"
        service.metrics.inc("foodrec_events_total", type=event.type, variant=event.variant, result=result)
        results.append(EventResult(idempotency_key=event.event_id, status=result, variant=event.variant))
    n_stored = sum(stored)
    return EventsResponse(stored=n_stored, duplicates=len(stored) - n_stored, results=results)


def credit_problem(ab: ABConfig, batch: EventBatch) -> str | None:
    """Why the batch's interleaving credits are refused (one line), or None when they are fine: one credit per item,
    only while an interleaving experiment runs, and only for its two variants."""
    for e in batch.events:
        if e.credits is None:
            continue
        if len(e.credits) != len(e.items):
            n_credits, n_items = len(e.credits), len(e.items)
            return f"event {e.idempotency_key!r}: credits must name one variant per item: {n_credits} for {n_items}"
        if not ab.interleave:
            return f"event {e.idempotency_key!r}: credits given, but no interleaving experiment is running"
        unknown = sorted(set(e.credits) - set(ab.interleave))
        if unknown:
            return (
                f"event {e.idempotency_key!r}: credit for unknown variant {unknown[0]!r}; "
                f"the interleaved variants are {', '.join(ab.interleave)}"
            )
    return None


async def _fold_in(service: Service, orders: list[Event]) -> None:
    """Stored orders reach every variant's features before the answer goes out: the customer's next request
    sees them (and their cached answers are dropped). A recommender that cannot take them keeps serving."""
    state = service.state
    latest = service.cache.slot(datetime.now(UTC)) - timedelta(microseconds=1)
    frame = pd.DataFrame(
        {
            "event_id": [e.event_id for e in orders],
            "customer_id": [e.customer_id for e in orders],
            "area": [e.area for e in orders],
            # A ranking is computed for the start of its time slot and sees only orders before it: an order of the
            # current slot is stamped just before the slot's start in the features (the stored event keeps its
            # time), so the customer's next request already sees it.
            "occurred_at": [min(e.occurred_at, latest) for e in orders],
            "items": [list(e.items) for e in orders],
        }
    )
    lines = event_order_lines(frame, state.snapshot.catalogue)
    try:
        n = await asyncio.get_running_loop().run_in_executor(None, state.observe, lines)
        service.metrics.inc("foodrec_order_lines_folded_total", amount=n)
    except Exception as err:  # noqa: BLE001 - the orders are stored; they reach the models at the next reload
        log.error("folding %d order(s) into the recommenders failed: %s", len(orders), err)
        service.metrics.inc("foodrec_order_fold_failures_total")
    for event in orders:
        service.cache.ordered(event.customer_id)
