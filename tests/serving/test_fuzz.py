"""Schemathesis against the OpenAPI schema: no generated request, valid or not, gets a 5xx; responses match.

Schemathesis' pytest plugin (``from_fixture``) does not run under pytest 9, so each operation's
Hypothesis strategy is driven directly.
"""

from __future__ import annotations

import contextlib
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from foodrec.serving.app import create_app
from foodrec.serving.state import ServiceState

EXAMPLES_PER_OPERATION = int(os.environ.get("FOODREC_FUZZ_EXAMPLES", "30"))


@pytest.fixture()
def api_schema(city, tmp_path):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    app = create_app(state, tmp_path / "events.sqlite", admin_token="fuzz-token")
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_generated_request_gets_a_server_error(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/recommendations", "/v1/events", "/v1/admin/reload", "/metrics"}
    for operation in operations:
        fuzz(operation, GenerationMode.POSITIVE)
        with contextlib.suppress(Unsatisfiable):  # an operation without parameters has no invalid request
            fuzz(operation, GenerationMode.NEGATIVE)


def fuzz(operation, mode: GenerationMode) -> None:
    # With the admin token too, so reloads with random variants and paths are fuzzed as well.
    headers = {"Authorization": "Bearer fuzz-token"} if operation.path.startswith("/v1/admin") else None

    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

    check()
