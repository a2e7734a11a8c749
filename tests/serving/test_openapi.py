"""API stability: docs/openapi.json is the app's schema, changes within /v1 stay backward compatible, and the
compatibility checker itself catches each kind of breaking change on crafted schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from foodrec.serving.app import create_app
from foodrec.serving.compat import breaking_changes
from foodrec.serving.openapi import REGENERATE, generate, main, render
from foodrec.serving.state import ServiceState

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def generated() -> dict:
    return generate()


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_the_committed_schema_is_the_apps(generated):
    assert COMMITTED.read_text(encoding="utf-8") == render(generated), (
        f"docs/openapi.json is not the app's schema: if the change is intended, run `{REGENERATE}`"
    )


def test_the_app_changes_nothing_within_v1_that_breaks_clients(committed, generated):
    problems = breaking_changes(committed, generated)
    assert not problems, "not backward compatible with docs/openapi.json:\n" + "\n".join(problems)


def test_a_serving_app_publishes_the_same_schema(city, tmp_path, generated):
    app = create_app(ServiceState(recommender=str(city["model"]), store=city["store"]), tmp_path / "e.sqlite")
    with TestClient(app) as client:
        assert client.get("/openapi.json").json() == json.loads(json.dumps(generated))


def test_every_operation_lists_its_errors_and_admin_routes_their_security(generated):
    paths = generated["paths"]
    assert set(paths["/v1/recommendations"]["get"]["responses"]) >= {"200", "422", "503"}
    assert set(paths["/v1/events"]["post"]["responses"]) >= {"200", "400", "413", "422", "503"}
    reload = paths["/v1/admin/reload"]["post"]
    assert set(reload["responses"]) >= {"200", "401", "403", "404", "409", "422"}
    assert reload["security"] == [{"HTTPBearer": []}]
    assert generated["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "description": "the server's admin token", "scheme": "bearer"
    }  # fmt: skip
    at = next(p for p in paths["/v1/recommendations"]["get"]["parameters"] if p["name"] == "at")
    assert "(19[7-9][0-9]|2[01][0-9]{2})" in at["schema"]["anyOf"][0]["pattern"]  # the 1970-2199 range


def test_check_command_exits_1_with_the_reason_on_a_stale_file(tmp_path, capsys, committed):
    stale = copy.deepcopy(committed)
    del stale["paths"]["/v1/events"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    (tmp_path / "openapi.json").write_text(json.dumps(stale))
    assert main(["--check", str(tmp_path / "openapi.json")]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert main(["--check", str(tmp_path / "missing.json")]) == 2


# -- the checker on crafted schemas -----------------------------------------------------------------------
def _mutated(schema: dict, change) -> dict:
    new = copy.deepcopy(schema)
    change(new)
    return new


def _component(schema: dict, name: str) -> dict:
    return schema["components"]["schemas"][name]


def _op(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]


BREAKING = {
    "path removed": (lambda s: s["paths"].pop("/v1/events"), "/v1/events: path removed"),
    "operation removed": (
        lambda s: s["paths"]["/v1/recommendations"].pop("get"),
        "GET /v1/recommendations: operation removed",
    ),
    "2xx answer removed": (
        lambda s: _op(s, "/v1/events", "post")["responses"].pop("200"),
        "POST /v1/events: 200 response removed",
    ),
    "response field removed": (
        lambda s: (
            _component(s, "RecommendationResponse")["properties"].pop("variant"),
            _component(s, "RecommendationResponse")["required"].remove("variant"),
        ),
        "field 'variant' removed",
    ),  # fmt: skip
    "response field made optional": (
        lambda s: _component(s, "EventsResponse")["required"].remove("stored"),
        "field 'stored' now optional",
    ),
    "response type widened": (
        lambda s: _component(s, "RecommendationResponse")["properties"].__setitem__(
            "model_version", {"anyOf": [{"type": "string"}, {"type": "null"}]}
        ),
        "field 'model_version': type widened (may now be null)",
    ),
    "new response enum value": (
        lambda s: _component(s, "RecommendedItem")["properties"]["source"]["enum"].append("editorial"),
        "new enum value(s): editorial",
    ),
    "new required query parameter": (
        lambda s: _op(s, "/v1/recommendations", "get")["parameters"].append(
            {"name": "city", "in": "query", "required": True, "schema": {"type": "string"}}
        ),
        "GET /v1/recommendations: new required query parameter 'city'",
    ),
    "parameter made required": (
        lambda s: next(p for p in _op(s, "/v1/recommendations", "get")["parameters"] if p["name"] == "k").__setitem__(
            "required", True
        ),
        "now required: query parameter 'k'",
    ),
    "parameter removed": (
        lambda s: _op(s, "/v1/recommendations", "get")["parameters"].pop(),
        "query parameter 'explain' removed",
    ),
    "parameter range narrowed": (
        lambda s: next(p for p in _op(s, "/v1/recommendations", "get")["parameters"] if p["name"] == "k")[
            "schema"
        ].__setitem__("maximum", 50),
        "query parameter 'k': maximum narrowed (100 -> 50)",
    ),
    "parameter type narrowed": (
        lambda s: next(p for p in _op(s, "/v1/recommendations", "get")["parameters"] if p["name"] == "k").__setitem__(
            "schema", {"type": "string"}
        ),
        "query parameter 'k': type narrowed (no longer accepts integer)",
    ),
    "new required request field": (
        lambda s: (
            _component(s, "EventIn")["properties"].__setitem__("session_id", {"type": "string"}),
            _component(s, "EventIn")["required"].append("session_id"),
        ),
        "new required field 'session_id'",
    ),  # fmt: skip
    "request field removed": (
        lambda s: _component(s, "EventIn")["properties"].pop("area"),
        "field 'area' removed",
    ),
    "request enum value removed": (
        lambda s: _component(s, "EventIn")["properties"]["type"]["enum"].remove("click"),
        "enum value(s) removed: click",
    ),
    "request length narrowed": (
        lambda s: _component(s, "EventBatch")["properties"]["events"].__setitem__("maxItems", 10),
        "field 'events': maxItems narrowed (1000 -> 10)",
    ),
    "request body made required": (
        lambda s: _op(s, "/v1/admin/reload", "post")["requestBody"].__setitem__("required", True),
        "POST /v1/admin/reload: request body now required",
    ),
}


@pytest.mark.parametrize("case", list(BREAKING))
def test_the_checker_finds_each_breaking_change(committed, case):
    change, expected = BREAKING[case]
    problems = breaking_changes(committed, _mutated(committed, change))
    assert any(expected in p for p in problems), problems


COMPATIBLE = {
    "new path": lambda s: s["paths"].__setitem__("/v1/new", copy.deepcopy(s["paths"]["/healthz"])),
    "new optional parameter": lambda s: _op(s, "/v1/recommendations", "get")["parameters"].append(
        {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"}}
    ),
    "new optional request field": lambda s: _component(s, "EventIn")["properties"].__setitem__(
        "session_id", {"type": "string"}
    ),
    "new response field": lambda s: _component(s, "RecommendationResponse")["properties"].__setitem__(
        "experiment", {"type": "string"}
    ),
    "new error status": lambda s: _op(s, "/v1/events", "post")["responses"].__setitem__(
        "429", {"description": "too many"}
    ),
    "wider request range": lambda s: next(
        p for p in _op(s, "/v1/recommendations", "get")["parameters"] if p["name"] == "k"
    )["schema"].__setitem__("maximum", 500),
    "a path outside /v1 removed": lambda s: s["paths"].pop("/metrics"),
}


@pytest.mark.parametrize("case", list(COMPATIBLE))
def test_the_checker_lets_additions_through(committed, case):
    assert breaking_changes(committed, _mutated(committed, COMPATIBLE[case])) == []
