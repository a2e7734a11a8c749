"""Request and response models of the HTTP API (they are the OpenAPI schema at ``/openapi.json``).

Identifiers are bounded strings without control characters, lists are bounded, numbers finite, so
whatever passes validation can be stored in SQLite and PostgreSQL alike.

>>> EventIn(idempotency_key="k1", type="order", customer_id="c1", items=["i1"], order_value=12.5).type
'order'
>>> EventIn(idempotency_key="k1", type="like", customer_id="c1")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for EventIn
...
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

MAX_ID_LENGTH = 128
MAX_K = 100
MAX_ITEMS_PER_EVENT = 200
MAX_EVENTS_PER_REQUEST = 1000
MAX_RANKINGS_PER_REQUEST = 256
MAX_ORDER_VALUE = 1_000_000.0
VARIANT_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"  # as in A/B config files
# Query times outside these bounds are almost surely mistakes (and outside pandas' timestamp range).
EARLIEST_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(2200, 1, 1, tzinfo=UTC)
NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"
# RFC 3339 date-time (seconds and offset required, up to microseconds) in the years 1970-2199, as written.
DATE_TIME_PATTERN = (
    r"^(19[7-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]{1,6})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_DATE_TIME = re.compile(DATE_TIME_PATTERN)


def _clean_id(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError("must be valid UTF-8 text") from err
    return value


Ident = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARS), AfterValidator(_clean_id)
]


def date_time_text(value: object) -> object:
    """A time on the wire is an RFC 3339 string (``2026-03-01T12:30:00Z``, ``...+01:00``): numbers, naive or
    partial times are refused, so the server takes exactly what the schema's pattern says. ``datetime`` objects
    (Python callers) pass through."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        raise ValueError(
            "must be an RFC 3339 date-time with seconds and offset, years 1970-2199, e.g. 2026-03-01T12:30:00Z"
        )
    return value


def as_utc(value: datetime) -> datetime:
    """Aware times are converted to UTC (naive ``datetime`` objects are taken as UTC); the year, as written, must
    be 1970-2199 (``1970-01-01T00:30:00+01:00`` is fine: its UTC time is still a valid timestamp)."""
    if not EARLIEST_AT.year <= value.year < LATEST_AT.year:
        raise ValueError(f"must be between {EARLIEST_AT:%Y-%m-%d} and {LATEST_AT:%Y-%m-%d}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcTime = Annotated[
    datetime,
    BeforeValidator(date_time_text),
    AfterValidator(as_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN}),
]


def integer_text(value: object) -> object:
    """A query-string integer is plain decimal digits (``5``, ``-1``): not ``5.0``, `` 5``, ``+5`` or ``1_0``."""
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,18}", value):
        raise ValueError("must be an integer written in decimal digits")
    return value


def boolean_text(value: object) -> object:
    """A query-string boolean is ``true`` or ``false`` (JSON's spelling), nothing else."""
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("must be true or false")
    return value


QueryInt = Annotated[int, BeforeValidator(integer_text)]
QueryBool = Annotated[bool, BeforeValidator(boolean_text)]


class RecommendedItem(BaseModel):
    """One ranked item with what the catalogue knows about it."""

    rank: int = Field(description="1 = first")
    item_id: str = Field(description="dish id at dish level, restaurant id at restaurant level")
    score: float | None = Field(description="the recommender's score (higher is better); None when not finite")
    source: Literal["model", "fallback"] = Field(description="model, or the cold-start fallback (area/global)")
    name: str | None = None
    restaurant_id: str | None = None
    restaurant_name: str | None = None
    price: float | None = None
    team: str | None = Field(
        None,
        description="in an interleaving experiment, the variant credited with this item (absent otherwise)",
    )
    reason: str | None = Field(
        None,
        description="why it is there, in plain words (only with explain=true; absent otherwise), e.g. "
        "'you ordered it before (3 times)', 'popular in south at dinner', 'liked by customers like you', "
        "'popular nearby' (a fallback item)",
    )


class RecommendationQuery(BaseModel):
    """The query string of ``GET /v1/recommendations`` (unknown parameters are ignored, as in any GET API)."""

    customer_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARS, description="who asks")
    area: str | None = Field(
        None, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARS, description="where the food goes"
    )
    at: UtcTime | None = Field(None, description="RFC 3339 time of the visit, years 1970-2199 (default: now)")
    k: QueryInt = Field(10, ge=1, le=MAX_K, description="how many items")
    explain: QueryBool = Field(
        False, description="add a plain-words reason to each item (computed per request: never from the cache)"
    )


def openapi_query_parameters(model: type[BaseModel]) -> list[dict]:
    """OpenAPI ``parameters`` (in: query) for a route that validates its query string with ``model``.

    >>> [p["name"] for p in openapi_query_parameters(RecommendationQuery)]
    ['customer_id', 'area', 'at', 'k', 'explain']
    """
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = {k: v for k, v in field_schema.items() if k not in ("title", "description")}
        parameter = {"name": name, "in": "query", "required": name in required, "schema": field_schema}
        description = model.model_fields[name].description
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


class RecommendationResponse(BaseModel):
    request_id: str = Field(description="quote it on the events this answer leads to")
    customer_id: str
    area: str | None
    at: datetime
    k: int
    level: Literal["dish", "restaurant"]
    variant: str = Field(description="the customer's A/B variant")
    model_version: str
    fallback: bool = Field(description="true when some items came from the cold-start fallback")
    items: list[RecommendedItem]


class EventIn(BaseModel):
    """One impression, click or order. ``idempotency_key`` makes retries safe: a key is stored once."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: Ident
    type: Literal["impression", "click", "order"]
    customer_id: Ident
    request_id: Ident | None = None
    variant: str | None = Field(
        None,
        pattern=VARIANT_PATTERN,
        description="ignored: the server stores the customer's own A/B variant (accepted for older clients)",
    )
    model_version: Ident | None = Field(
        None, description="ignored: the server stores the version serving the customer's variant"
    )
    items: list[Ident] = Field(default_factory=list, max_length=MAX_ITEMS_PER_EVENT)
    order_value: float | None = Field(None, ge=0, le=MAX_ORDER_VALUE, allow_inf_nan=False, strict=True)
    area: Ident | None = None
    occurred_at: UtcTime | None = Field(None, description="defaults to the time the server received it")
    credits: list[Annotated[str, Field(pattern=VARIANT_PATTERN)]] | None = Field(
        None,
        max_length=MAX_ITEMS_PER_EVENT,
        description="interleaving only: the variant credited with each of `items` (the `team` of the shown item); "
        "credits that do not name one interleaved variant per item are refused with 409",
    )


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


class EventResult(BaseModel):
    idempotency_key: str
    status: Literal["stored", "duplicate"]
    variant: str


class EventsResponse(BaseModel):
    stored: int
    duplicates: int
    results: list[EventResult]


class Health(BaseModel):
    status: Literal["ok"]


class VariantInfo(BaseModel):
    recommender: str
    model_version: str
    level: str
    share: float
    loaded_at: datetime


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    variants: dict[str, VariantInfo]
    event_store: str
    detail: str | None = None


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variants: Annotated[
        dict[Annotated[str, Field(pattern=VARIANT_PATTERN)], Annotated[str, Field(min_length=1, max_length=4096)]],
        WithJsonSchema(
            {
                "type": "object",
                "propertyNames": {"pattern": VARIANT_PATTERN},
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4096},
                "maxProperties": 32,
            }
        ),
    ] = Field(
        default_factory=dict, max_length=32, description="variant -> new recommender (baseline name or model path)"
    )


class ReloadResponse(BaseModel):
    generation: int
    salt: str
    variants: dict[str, VariantInfo]
    previous: dict[str, str] = Field(description="variant -> model version served before the reload")


class DemoOptions(BaseModel):
    customers: list[str]
    areas: list[str]
    variants: list[str]
    level: str
    time_resolution_s: int = Field(300, description="rankings are computed per time slot of this many seconds")


MAX_RECENT_ORDERS = 50


class OrderedItem(BaseModel):
    """One item of a past order, with what the catalogue knows about it."""

    item_id: str = Field(description="dish id at dish level, restaurant id at restaurant level")
    name: str | None = None
    restaurant_id: str | None = None
    restaurant_name: str | None = None
    price: float | None = None


class PastOrder(BaseModel):
    at: datetime = Field(description="when it was ordered (UTC)")
    items: list[OrderedItem]


class CustomerOrders(BaseModel):
    """A customer's recent orders as the customer's variant sees them (store plus the orders posted since)."""

    customer_id: str
    variant: str = Field(description="the customer's A/B variant, whose data was read")
    level: Literal["dish", "restaurant"]
    orders: list[PastOrder] = Field(description="newest first; empty for a customer without orders")


class VariantRanking(BaseModel):
    """One variant's own list for a visit (``GET /v1/admin/rankings``)."""

    model_version: str
    items: list[str] = Field(description="ranked ids, best first (fallback items included)")
    fallback: int = Field(description="how many of them came from the cold-start fallback")


class Rankings(BaseModel):
    """Every variant's list for one visit: paired ground truth, never an exposure."""

    customer_id: str
    area: str | None
    slot: datetime = Field(description="the time the rankings were computed for (start of the visit's time slot)")
    k: int
    variants: dict[str, VariantRanking]


class RankingsVisit(BaseModel):
    """One visit of ``POST /v1/admin/rankings/batch`` (the query of ``GET /v1/admin/rankings`` as a JSON object)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Ident
    area: Ident | None = None
    at: UtcTime | None = Field(None, description="time of the visit (default: now)")
    k: int = Field(10, ge=1, le=MAX_K)
    variant: list[Annotated[str, Field(pattern=VARIANT_PATTERN)]] | None = Field(
        None, max_length=16, description="only these variants (default: all)"
    )


class RankingsBatchRequest(BaseModel):
    """Several visits priced at once, e.g. by the simulator's paired ground truth (one request per wave)."""

    model_config = ConfigDict(extra="forbid")

    visits: list[RankingsVisit] = Field(min_length=1, max_length=MAX_RANKINGS_PER_REQUEST)


class RankingsBatch(BaseModel):
    """The rankings of each visit of a ``POST /v1/admin/rankings/batch``, in the order asked."""

    rankings: list[Rankings]


class ErrorResponse(BaseModel):
    """The body of every error answer except validation errors: one readable line."""

    detail: str


class ValidationIssue(BaseModel):
    loc: list[str] = Field(description="where: 'query', 'body' or 'path', then the field's path")
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """The body of a 422 for input that fails validation: each problem, and one readable line of them all."""

    detail: list[ValidationIssue]
    message: str
