"""``GET /v1/admin/rankings``: every variant's own list for one visit, for paired ground truth; never an exposure.

The simulator asks it for each visit it simulates, so the expected orders under *every* variant's list are
known for the same visit (``foodrec simulate``'s ``paired_true_lift``). It needs the admin bearer token, is
ranked at the same time slot as ``GET /v1/recommendations`` (so the shown list is one of these), is never
cached or recorded as an event, and is counted apart in ``foodrec_admin_rankings_total``.

>>> # curl -H 'Authorization: Bearer TOKEN' \\
>>> #   'http://127.0.0.1:8000/v1/admin/rankings?customer_id=c1&at=2026-03-01T12:30:00Z&k=10'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BeforeValidator

from foodrec.serving.batching import Overloaded
from foodrec.serving.deps import Service, get_service
from foodrec.serving.routers.admin import require_admin
from foodrec.serving.schemas import (
    MAX_ID_LENGTH,
    MAX_K,
    NO_CONTROL_CHARS,
    ErrorResponse,
    Rankings,
    UtcTime,
    VariantRanking,
    integer_text,
)
from foodrec.serving.state import Query as RankQuery

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get(
    "/rankings",
    response_model=Rankings,
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse, "description": "unknown variant"},
        503: {"model": ErrorResponse, "description": "overloaded: retry shortly"},
    },
    summary="Every variant's ranking for one visit (paired ground truth; not an exposure, never cached)",
)
async def rankings(
    customer_id: str = Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARS),
    area: str | None = Query(None, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARS),
    at: UtcTime | None = Query(None, description="ISO 8601 time of the visit (default: now)"),
    k: Annotated[int, Query(ge=1, le=MAX_K), BeforeValidator(integer_text)] = 10,
    variant: list[str] | None = Query(None, description="only these variants (default: all)"),
    service: Service = Depends(get_service),
) -> Rankings:
    from foodrec.serving.interleave import rank_all

    snapshot = service.state.snapshot
    names = list(variant) if variant else list(snapshot.ab.names)
    for name in names:
        if name not in snapshot.models:
            raise HTTPException(404, f"unknown variant {name!r}: choose from {', '.join(snapshot.ab.names)}")
    slot = service.cache.slot(at if at is not None else datetime.now(UTC))
    try:
        ranked = await rank_all(service, snapshot, RankQuery(customer_id, area or None, slot, k), names)
    except (Overloaded, TimeoutError) as err:
        raise HTTPException(503, f"server busy ({err}); retry shortly", headers={"Retry-After": "1"}) from None
    service.metrics.inc("foodrec_admin_rankings_total", amount=len(names))
    return Rankings(
        customer_id=customer_id,
        area=area or None,
        slot=slot,
        k=k,
        variants={
            name: VariantRanking(model_version=snapshot.models[name].version, items=r.items, fallback=r.fallback)
            for name, r in ranked.items()
        },
    )
