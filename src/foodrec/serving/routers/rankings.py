"""``GET /v1/admin/rankings``: every variant's own list for one visit, for paired ground truth; never an exposure.
``POST /v1/admin/rankings/batch`` does the same for up to 256 visits in one request (``{"visits": [{customer_id, area,
at, k, variant}, ...]}`` → ``{"rankings": [...]}`` in the same order).

The simulator asks it for each visit it simulates, so the expected orders under *every* variant's list are
known for the same visit (``foodrec simulate``'s ``paired_true_lift``). It needs the admin bearer token, is
ranked at the same time slot as ``GET /v1/recommendations`` (so the shown list is one of these), is never
cached or recorded as an event, and is counted apart in ``foodrec_admin_rankings_total``.

>>> # curl -H 'Authorization: Bearer TOKEN' \\
>>> #   'http://127.0.0.1:8000/v1/admin/rankings?customer_id=c1&at=2026-03-01T12:30:00Z&k=10'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

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
    RankingsBatch,
    RankingsBatchRequest,
    RankingsVisit,
    UtcTime,
    VariantRanking,
    integer_text,
)
from foodrec.serving.state import Query as RankQuery

router = APIRouter(prefix="/v1/admin", tags=["admin"])
# The answers besides 200 that both ranking routes document.
ADMIN_RANKING_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse, "description": "unknown variant"},
    503: {"model": ErrorResponse, "description": "overloaded: retry shortly"},
}


@router.get(
    "/rankings",
    response_model=Rankings,
    dependencies=[Depends(require_admin)],
    responses=ADMIN_RANKING_ANSWERS,
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
    snapshot = service.state.snapshot
    _check_variants(snapshot, variant)
    try:
        return await _rank_visit(service, snapshot, RankingsVisit.model_construct(
            customer_id=customer_id, area=area, at=at, k=k, variant=variant))  # fmt: skip
    except (Overloaded, TimeoutError) as err:
        raise HTTPException(503, f"server busy ({err}); retry shortly", headers={"Retry-After": "1"}) from None


@router.post(
    "/rankings/batch",
    response_model=RankingsBatch,
    dependencies=[Depends(require_admin)],
    responses=ADMIN_RANKING_ANSWERS,
    summary="Every variant's ranking for several visits at once (paired ground truth; not an exposure)",
)
async def rankings_batch(body: RankingsBatchRequest, service: Service = Depends(get_service)) -> RankingsBatch:
    """The ``GET`` route's answer for each visit of ``body.visits``, in order, ranked together through the
    model's batches (one request instead of one per visit)."""
    import asyncio

    snapshot = service.state.snapshot
    for visit in body.visits:
        _check_variants(snapshot, visit.variant)
    try:
        answers = await asyncio.gather(*(_rank_visit(service, snapshot, visit) for visit in body.visits))
    except (Overloaded, TimeoutError) as err:
        raise HTTPException(503, f"server busy ({err}); retry shortly", headers={"Retry-After": "1"}) from None
    return RankingsBatch(rankings=list(answers))


def _check_variants(snapshot: Any, variant: list[str] | None) -> None:
    for name in variant or ():
        if name not in snapshot.models:
            raise HTTPException(404, f"unknown variant {name!r}: choose from {', '.join(snapshot.ab.names)}")


async def _rank_visit(service: Service, snapshot: Any, visit: RankingsVisit) -> Rankings:
    """Each (asked) variant's own list for one visit, at the visit's time slot; counted, never cached."""
    from foodrec.serving.interleave import rank_all

    names = list(visit.variant) if visit.variant else list(snapshot.ab.names)
    slot = service.cache.slot(visit.at if visit.at is not None else datetime.now(UTC))
    area = visit.area or None
    ranked = await rank_all(service, snapshot, RankQuery(visit.customer_id, area, slot, visit.k), names)
    service.metrics.inc("foodrec_admin_rankings_total", amount=len(names))
    return Rankings(
        customer_id=visit.customer_id,
        area=area,
        slot=slot,
        k=visit.k,
        variants={
            name: VariantRanking(model_version=snapshot.models[name].version, items=r.items, fallback=r.fallback)
            for name, r in ranked.items()
        },
    )
