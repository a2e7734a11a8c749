"""The answers every route can give besides its own, declared once in the OpenAPI schema.

Routes declare what is theirs (a 404 for an unknown variant, a 503 from the event store); the answers that come
from the framework and the shared middleware are added here to every operation they apply to, so the schema lists
each status code a route can return with its body:

- 422 :class:`~foodrec.serving.schemas.ValidationErrorResponse` on an operation with parameters or a body (where
  the route has a 422 of its own, e.g. a reload that failed, the schema says "either body");
- 400 (a body that is not UTF-8 JSON text) and 413 (a body over ``--max-body-kb``) on an operation with a body;
- 401 (missing or wrong bearer token) and 403 (admin routes disabled) on an operation behind the bearer scheme;
- 503 with ``Retry-After`` on every operation the load guard covers (all but the probes and ``/metrics``).

It works on the generated document (``app.openapi()``), so it holds for every router, present and future.

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> @app.get("/v1/things/{thing_id}")
... def thing(thing_id: str) -> dict: ...
>>> declare_common_responses(app)
>>> sorted(app.openapi()["paths"]["/v1/things/{thing_id}"]["get"]["responses"])
['200', '422', '503']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from foodrec.serving.schemas import ErrorResponse, ValidationErrorResponse

REF = "#/components/schemas/{model}"
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
# What FastAPI documents for a 422 by default; our handler answers ValidationErrorResponse instead.
FASTAPI_422 = "#/components/schemas/HTTPValidationError"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def declare_common_responses(app: FastAPI, unguarded: frozenset[str] = frozenset()) -> None:
    """Make ``app.openapi()`` list the shared status codes of every operation; ``unguarded`` are the paths the
    load guard lets through (they never answer its 503)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        return add_common_responses(generate(), unguarded)

    app.openapi = openapi  # type: ignore[method-assign]


def _json(model: type[BaseModel], description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        **extra,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
    }


def add_common_responses(schema: dict[str, Any], unguarded: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Add the shared responses to an OpenAPI document in place (idempotent) and return it."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorResponse, ValidationErrorResponse):
        model_schema = model.model_json_schema(ref_template=REF)
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    validation_ref = REF.format(model=ValidationErrorResponse.__name__)
    bearer_schemes = {
        name
        for name, scheme in components_of(schema, "securitySchemes").items()
        if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer"
    }
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if operation.get("parameters") or operation.get("requestBody"):
                _declare_422(responses, validation_ref)
            if operation.get("requestBody"):
                responses.setdefault("400", _json(ErrorResponse, "the body is not UTF-8 JSON text"))
                responses.setdefault("413", _json(ErrorResponse, "the body is larger than the server's limit"))
            if any(set(requirement) & bearer_schemes for requirement in operation.get("security", ())):
                challenge = {"WWW-Authenticate": {"schema": {"type": "string"}}}
                responses.setdefault("401", _json(ErrorResponse, "missing or wrong admin token", headers=challenge))
                responses.setdefault("403", _json(ErrorResponse, "admin routes are disabled (no admin token set)"))
            if path not in unguarded:
                responses.setdefault("503", _json(ErrorResponse, "busy: retry shortly", headers=RETRY_AFTER))
            operation["responses"] = dict(sorted(responses.items()))
    if not _mentions(schema.get("paths", {}), FASTAPI_422):
        components.pop("HTTPValidationError", None)
        if not _mentions(components, "#/components/schemas/ValidationError"):
            components.pop("ValidationError", None)
    return schema


def components_of(schema: dict[str, Any], kind: str) -> dict[str, Any]:
    return schema.get("components", {}).get(kind, {})


def _declare_422(responses: dict[str, Any], validation_ref: str) -> None:
    own = responses.get("422")
    ours = _json(ValidationErrorResponse, "invalid input: each problem, and one line of them all")
    if own is None:
        responses["422"] = ours
        return
    body = own.get("content", {}).get("application/json", {}).get("schema")
    if body is None:  # a route's own 422 that only describes itself
        responses["422"] = {**ours, "description": own.get("description") or ours["description"]}
    elif body.get("$ref") == FASTAPI_422:
        responses["422"] = ours
    elif body.get("$ref") != validation_ref and {"$ref": validation_ref} not in body.get("anyOf", ()):
        either = {"anyOf": [{"$ref": validation_ref}, *body.get("anyOf", [body])]}
        own["content"]["application/json"]["schema"] = either


def _mentions(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_mentions(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, ref) for v in node)
    return False
