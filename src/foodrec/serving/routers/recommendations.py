"""``GET /v1/recommendations``: ranked items for a customer, an area and a time, in the customer's A/B variant.

Rankings are computed for the start of the request's time slot (``foodrec serve --time-resolution``, default
5 minutes) and kept in the response cache (:mod:`foodrec.serving.cache`), so repeats within a slot are answered
without running the model. The ``X-Foodrec-Cache`` header says ``hit`` or ``miss``.

``explain=true`` adds a plain-words ``reason`` to each item (the recommender's
:meth:`~foodrec.recommenders.base.Recommender.explain`). Such a request bypasses the cache both ways (its query
string is never remembered, so the ASGI fast path never answers it, and its answer is never stored), so the
ranking hot path does no explaining; the header says ``bypass``.

>>> # curl 'http://127.0.0.1:8000/v1/recommendations?customer_id=c1&area=9q8yy&at=2026-03-01T12:30:00Z&k=5'
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import to_json
from starlette.types import ASGIApp, Receive, Scope, Send

from foodrec.recommenders.reasons import POPULAR_NEARBY
from foodrec.serving.batching import Overloaded
from foodrec.serving.cache import CachedAnswer, Key, Parsed
from foodrec.serving.deps import Service
from foodrec.serving.ranking import rank_query
from foodrec.serving.schemas import (
    ErrorResponse,
    RecommendationQuery,
    RecommendationResponse,
    RecommendedItem,
    openapi_query_parameters,
)
from foodrec.serving.state import Catalogue, LoadedModel, Ranked, Snapshot, queries_frame
from foodrec.serving.state import Query as RankQuery

router = APIRouter(prefix="/v1", tags=["recommendations"])
PATH = "/v1/recommendations"
log = logging.getLogger("foodrec.serving")
# Request ids: 128 random bits from a generator seeded once from the OS (uuid4 reads the OS entropy pool on
# every call, which cost ~0.2 ms per request here).
_ids = random.Random()


@router.get(
    "/recommendations",
    response_model=RecommendationResponse,
    responses={503: {"model": ErrorResponse, "description": "overloaded: retry shortly"}},
    summary="Rank items for a customer now (unknown customers and areas get the cold-start fallback)",
    openapi_extra={"parameters": openapi_query_parameters(RecommendationQuery)},
)
async def recommendations(request: Request) -> Response:
    service: Service = request.app.state.service
    cache = service.cache
    raw = request.scope["query_string"]
    parsed = cache.parsed(raw)
    explain = False
    if parsed is None:
        # One pydantic model validates the query string instead of FastAPI's per-parameter dependency solving,
        # which cost 60% of a cached answer's time; the parameters are documented from the same model.
        try:
            params = RecommendationQuery.model_validate(request.query_params)
        except ValidationError as err:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in err.errors(include_url=False, include_context=False)]
            ) from None
        parsed = (params.customer_id, params.area or None, params.at, params.k)
        explain = params.explain
        if not explain:  # an explained query string is never remembered: the fast path never answers it
            cache.remember(raw, parsed)
    return await respond(service, parsed, explain)


def parse_valid(service: Service, raw: bytes) -> Parsed | None:
    """The validated parameters of a query string, remembered for next time; None when invalid or ``explain``
    (the route answers those: the 422 body, the reasons)."""
    try:
        # Starlette's QueryParams of the same bytes, as a plain dict (the last of repeated keys, as QueryParams):
        # the same values validated, without building a multi-dict per request.
        params = RecommendationQuery.model_validate(dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)))
    except ValidationError:
        return None
    if params.explain:
        return None
    parsed = (params.customer_id, params.area or None, params.at, params.k)
    service.cache.remember(raw, parsed)
    return parsed


async def respond(service: Service, parsed: Parsed, explain: bool = False, found: Lookup | None = None) -> Response:
    """The answer to validated parameters: from the response cache, else ranked (:func:`rank_query`)
    (``found``: the cache was looked up already)."""
    cache = service.cache
    if found is None:
        if service.state.snapshot.ab.interleave:  # an interleaving experiment: one merged list, never cached
            return await _interleaved(service, parsed)
        found = lookup(service, parsed, use_cache=not explain)
    outcome = "hit"
    if found.answer is None:
        customer_id, area, _, k = parsed
        try:
            answer, cacheable = await _rank(
                service, found.snapshot, found.model, RankQuery(customer_id, area, found.slot, k), explain
            )
        except (Overloaded, TimeoutError) as err:
            reason = "recommendation timeout" if isinstance(err, TimeoutError) else "recommendation queue full"
            service.metrics.inc("foodrec_http_requests_shed_total", reason=reason)
            return JSONResponse(
                {"detail": f"server busy ({err}); retry shortly"},
                status_code=503,
                headers={"Retry-After": "1", "X-Foodrec-Variant": found.model.variant},
            )
        if cacheable and not explain:
            cache.put(found.key, answer)
        found.answer, outcome = answer, "bypass" if explain else "miss"
    return Response(
        render(service, found),
        media_type="application/json",
        headers={"X-Foodrec-Variant": found.model.variant, "X-Foodrec-Cache": outcome},
    )


async def _interleaved(service: Service, parsed: Parsed) -> Response:
    """The team-draft merge of the two interleaved variants' rankings (see :mod:`foodrec.serving.interleave`)."""
    from foodrec.serving.interleave import interleaved_answer

    customer_id, area, at, k = parsed
    snapshot = service.state.snapshot
    slot = service.cache.slot(at if at is not None else datetime.now(UTC))
    try:
        response, _ = await interleaved_answer(service, snapshot, RankQuery(customer_id, area, slot, k))
    except (Overloaded, TimeoutError) as err:
        service.metrics.inc("foodrec_http_requests_shed_total", reason="recommendation queue full")
        return JSONResponse({"detail": f"server busy ({err}); retry shortly"}, status_code=503,
                            headers={"Retry-After": "1"})  # fmt: skip
    response.request_id = f"{_ids.getrandbits(128):032x}"
    response.at = at if at is not None else datetime.now(UTC)
    service.metrics.inc("foodrec_recommendations_total", variant=response.variant, model_version=response.model_version)
    body = response.model_dump_json(exclude={"items": {"__all__": {"reason"}}}).encode()
    return Response(body, media_type="application/json",
                    headers={"X-Foodrec-Variant": response.variant, "X-Foodrec-Cache": "bypass"})  # fmt: skip


@dataclass(slots=True)
class Lookup:
    """Where a query stands: its variant's model, its time and slot, its cache key, and the answer if cached."""

    snapshot: Snapshot
    model: LoadedModel
    when: datetime
    slot: datetime
    key: Key
    answer: CachedAnswer | None


def lookup(service: Service, parsed: Parsed, use_cache: bool = True) -> Lookup:
    """Assign the variant and look the answer up in the response cache (unless ``use_cache`` is false)."""
    customer_id, area, at, k = parsed
    cache = service.cache
    when = at if at is not None else datetime.now(UTC)
    snapshot = service.state.snapshot
    model = snapshot.model_for(customer_id)
    slot = cache.slot(when)
    key = cache.key(snapshot.generation, model.variant, customer_id, area, slot, k)
    return Lookup(snapshot, model, when, slot, key, cache.get(key) if use_cache else None)


def render(service: Service, found: Lookup) -> bytes:
    """The response body: this request's id and time in front of the shared answer; counts the answer served."""
    answer = found.answer
    assert answer is not None
    service.metrics.inc("foodrec_recommendations_total", variant=answer.variant, model_version=answer.model_version)
    if answer.fallback_items:
        service.metrics.inc(
            "foodrec_recommendation_fallback_items_total", answer.fallback_items, variant=answer.variant
        )
    # The answer's first byte is its opening brace.
    return f'{{"request_id":"{_ids.getrandbits(128):032x}","at":"{_iso(found.when)}",'.encode() + answer.body[1:]


class CachedAnswers:
    """Pure ASGI middleware: a valid ``GET /v1/recommendations`` is answered from here.

    A query string seen (and validated) before, whose ranking is in the response cache, needs none of the
    framework's routing, request parsing or response classes. A new valid one is validated by the same pydantic
    model as the route and ranked by the same :func:`respond`, without FastAPI's routing and request objects
    (a third of a ranked answer's CPU). Invalid query strings and ``explain=true`` go on to the FastAPI route
    above, which answers them (422 body, reasons) and is also what documents the endpoint.
    """

    def __init__(self, app: ASGIApp, service: Service):
        self.app = app
        self.service = service
        self.route = next(r for r in router.routes if getattr(r, "name", "") == "recommendations")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            service = self.service
            raw = scope["query_string"]
            parsed = service.cache.parsed(raw) or parse_valid(service, raw)
            if parsed is not None:
                scope["route"] = self.route  # for the request metrics' route label
                found = None if service.state.snapshot.ab.interleave else lookup(service, parsed)
                if found is not None and found.answer is not None:
                    body = render(service, found)
                    headers = [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-foodrec-variant", found.model.variant.encode()),
                        (b"x-foodrec-cache", b"hit"),
                    ]
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
                await (await respond(service, parsed, found=found))(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _rank(
    service: Service, snapshot: Snapshot, model: LoadedModel, query: RankQuery, explain: bool = False
) -> tuple[CachedAnswer, bool]:
    """Rank one query (:func:`rank_query`); the answer serialised once, and whether it may be cached.

    An answer filled by the fallback because the recommender raised is not cached: the next request retries.
    With ``explain`` each item gets its ``reason`` (computed off the event loop, under the model's lock).
    """
    ranked: Ranked = await rank_query(service, snapshot, model, query)
    if ranked.error is not None:
        service.metrics.inc("foodrec_recommender_errors_total", variant=model.variant)
    n_model = len(ranked.items) - ranked.fallback
    catalogue = snapshot.catalogue
    if not explain:
        body = answer_json(query, model, ranked, catalogue)
        return CachedAnswer(body, model.variant, model.version, ranked.fallback), ranked.error is None
    reasons: list[str | None] = [None] * len(ranked.items)
    if explain:
        reasons = await asyncio.get_running_loop().run_in_executor(None, explain_ranked, model, query, ranked)
    items = [
        RecommendedItem(
            rank=i + 1,
            item_id=item,
            score=score,
            source="model" if i < n_model else "fallback",
            reason=reasons[i],
            **catalogue.describe(item, model.level),
        )
        for i, (item, score) in enumerate(zip(ranked.items, ranked.scores, strict=True))
    ]
    response = RecommendationResponse(
        request_id="",
        customer_id=query.customer_id,
        area=query.area,
        at=query.at,
        k=query.k,
        level=model.level,
        variant=model.variant,
        model_version=model.version,
        fallback=ranked.fallback > 0,
        items=items,
    )
    # Validated by construction: serialised once here instead of FastAPI validating it again per request.
    # Without explain the items carry no `reason` key at all: the answer is the same bytes as before it existed.
    exclude: dict = {"request_id": True, "at": True}
    if not explain:
        exclude["items"] = {"__all__": set(HIDDEN_ITEM_FIELDS)}
    else:
        exclude["items"] = {"__all__": set(HIDDEN_ITEM_FIELDS - {"reason"})}
    body = response.model_dump_json(exclude=exclude).encode()
    return CachedAnswer(body, model.variant, model.version, ranked.fallback), ranked.error is None


# Item fields a plain answer leaves out (explain=true keeps the reason).
HIDDEN_ITEM_FIELDS = frozenset({"reason", "team"})
_ITEM_KEYS = tuple(name for name in RecommendedItem.model_fields if name not in HIDDEN_ITEM_FIELDS)
_ITEM_DEFAULTS = {name: f.default for name, f in RecommendedItem.model_fields.items() if not f.is_required()}
_ANSWER_KEYS = tuple(name for name in RecommendationResponse.model_fields if name not in ("request_id", "at"))


def answer_json(query: RankQuery, model: LoadedModel, ranked: Ranked, catalogue: Catalogue) -> bytes:
    """The answer's JSON (without ``request_id`` and ``at``): the bytes of :class:`RecommendationResponse`'s
    ``model_dump_json`` for the same values (a test compares them), written by pydantic-core without building a
    model per item. Each item's id and catalogue fields are serialised once per catalogue (:func:`_item_json`);
    the scores of an answer in one call."""
    n_model = len(ranked.items) - ranked.fallback
    scores = to_json(ranked.scores)[1:-1].split(b",") if ranked.scores else []
    fragments = catalogue.__dict__.get("_json")
    if fragments is None:  # the catalogue is frozen and swapped whole on reload: its own cache goes with it
        fragments = {}
        object.__setattr__(catalogue, "_json", fragments)
    parts = []
    for i, item in enumerate(ranked.items):
        fragment = fragments.get((item, model.level))
        if fragment is None:
            fragment = fragments[(item, model.level)] = _item_json(item, model.level, catalogue)
        head, tail = fragment
        source = b'"model"' if i < n_model else b'"fallback"'
        parts.append(b'{"rank":%d,"item_id":%b,"score":%b,"source":%b%b' % (i + 1, head, scores[i], source, tail))
    answer = {"customer_id": query.customer_id, "area": query.area, "k": query.k, "level": model.level,
              "variant": model.variant, "model_version": model.version, "fallback": ranked.fallback > 0,
              "items": None}  # fmt: skip
    body = to_json({key: answer[key] for key in _ANSWER_KEYS})
    return body[: -len(b"null}")] + b"[" + b",".join(parts) + b"]}"


def _item_json(item: str, level: str, catalogue: Catalogue) -> tuple[bytes, bytes]:
    """An item's id and the rest of its JSON object after ``source`` (its catalogue fields and the closing brace),
    in the response model's field order."""
    values = catalogue.describe(item, level)
    rest = {key: values.get(key, _ITEM_DEFAULTS.get(key)) for key in _ITEM_KEYS[4:]}
    tail = to_json(rest)
    return to_json(item), (b"," + tail[1:] if rest else b"}")


if _ITEM_KEYS[:4] != ("rank", "item_id", "score", "source") or _ANSWER_KEYS[-1] != "items":
    raise ImportError("RecommendedItem must start with rank, item_id, score, source and RecommendationResponse end "
                      "with items: answer_json writes those itself")  # fmt: skip


def explain_ranked(model: LoadedModel, query: RankQuery, ranked: Ranked) -> list[str | None]:
    """The reason of each ranked item: the recommender's :meth:`explain` for its own items, "popular nearby" for
    the fallback's. A recommender whose explain fails (or answers the wrong shape) leaves its items without one."""
    n_model = len(ranked.items) - ranked.fallback
    reasons: list[str | None] = [None] * n_model + [POPULAR_NEARBY] * ranked.fallback
    if n_model == 0:
        return reasons
    try:
        with model.lock:
            explained = model.recommender.explain(queries_frame([query]), [ranked.items[:n_model]])
        if len(explained) != 1 or len(explained[0]) != n_model:
            raise ValueError(f"explain() returned {[len(r) for r in explained]} reasons for {n_model} items")
        reasons[:n_model] = [str(r) if r else None for r in explained[0]]
    except Exception as err:  # noqa: BLE001 - reasons are a courtesy: the ranking is still served
        log.warning("explain failed for variant %s: %s: %s", model.variant, type(err).__name__, err)
    return reasons


def _iso(when: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as pydantic writes it (``when`` is aware UTC)."""
    return when.isoformat().replace("+00:00", "Z")
