"""``GET /``: the demo page (plain HTML and JavaScript, no build step) and the options it offers."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from foodrec.serving.deps import Service, get_service
from foodrec.serving.schemas import DemoOptions

router = APIRouter(tags=["demo page"])


@cache
def _page() -> str:
    return resources.files("foodrec.serving").joinpath("page/index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, summary="Demo page: try the recommendations in a browser")
async def index() -> HTMLResponse:
    return HTMLResponse(_page())


@router.get("/v1/demo/options", response_model=DemoOptions, summary="Example customers and areas for the demo page")
async def options(service: Service = Depends(get_service)) -> DemoOptions:
    snapshot = service.state.snapshot
    levels = {m.level for m in snapshot.models.values()}
    return DemoOptions(
        customers=list(snapshot.catalogue.customers),
        areas=list(snapshot.catalogue.areas),
        variants=list(snapshot.ab.names),
        level=levels.pop() if len(levels) == 1 else "mixed",
        time_resolution_s=service.cache.resolution_s,
    )
