"""``/healthz`` (the process answers), ``/readyz`` (models loaded, event store answers), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from foodrec.errors import StoreError
from foodrec.serving.deps import Service, get_service
from foodrec.serving.events import PostgresEventStore
from foodrec.serving.events import _redact as redact
from foodrec.serving.schemas import Health, Readiness, VariantInfo
from foodrec.serving.state import Snapshot

router = APIRouter(tags=["health"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def variant_infos(snapshot: Snapshot) -> dict[str, VariantInfo]:
    return {
        v.name: VariantInfo(
            recommender=snapshot.models[v.name].source,
            model_version=snapshot.models[v.name].version,
            level=snapshot.models[v.name].level,
            share=v.share,
            loaded_at=snapshot.models[v.name].loaded_at,
        )
        for v in snapshot.ab.variants
    }


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready"}},
    summary="Readiness: models loaded and the event store answers",
)
def readyz(service: Service = Depends(get_service)) -> Readiness | JSONResponse:
    snapshot = service.state.snapshot
    store = service.events
    name = f"{store.kind}:{redact(store.url) if isinstance(store, PostgresEventStore) else store.url}"
    try:
        store.ping()
    except StoreError as err:
        body = Readiness(status="not ready", variants=variant_infos(snapshot), event_store=name, detail=str(err))
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return Readiness(status="ready", variants=variant_infos(snapshot), event_store=name)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics: request counts and latencies per route and variant",
    responses={200: {"content": {PROMETHEUS_TEXT: {}}}},
)
async def metrics(service: Service = Depends(get_service)) -> PlainTextResponse:
    return PlainTextResponse(service.metrics.render(), media_type=PROMETHEUS_TEXT)
