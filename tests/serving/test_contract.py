"""The OpenAPI schema is the contract: schemathesis ``--checks all`` against a live server finds no difference.

Every check schemathesis has runs (server errors, undocumented status codes and content types, response bodies
and headers against their schemas, schema-valid requests refused, schema-invalid requests accepted, the bearer
scheme really guarding the admin routes, ...), with a fixed seed. The default run is the examples, coverage and
fuzzing phases with a few examples per operation; the slow one adds the stateful phase, at the closing note's
size (60 examples per operation).
The CLI is driven as a user would (``schemathesis run URL/openapi.json --checks all``) against uvicorn serving
the app in this process on a free port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from foodrec.serving.app import create_app
from foodrec.serving.state import ServiceState

TOKEN = "contract-token"
FAST_PHASES = "examples,coverage,fuzzing"


def run_schemathesis(url: str, tmp_path: Path, max_examples: int, seed: int, *extra: str) -> str:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--generation-database",
        "none",
        "--no-color",
        *extra,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"schemathesis found contract failures:\n{output[-6000:]}"
    return output


def test_schemathesis_checks_all_find_nothing(city, tmp_path, live_server):
    """The fast fixed-seed profile of `make test`: every check, a few examples per operation, admin token on."""
    app = create_app(ServiceState(recommender=str(city["model"]), store=city["store"]), tmp_path / "e.sqlite",
                     admin_token=TOKEN)  # fmt: skip
    with live_server(app) as server:
        output = run_schemathesis(
            server.url, tmp_path, 5, 18, "--phases", FAST_PHASES, "-H", f"Authorization: Bearer {TOKEN}"
        )
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert cases and int(cases.group(1)) > 100, output[-2000:]  # it really ran (coverage phase included)


def test_admin_routes_without_a_configured_token_answer_as_documented(city, tmp_path, live_server):
    """No --admin-token: the admin routes answer 401 without credentials and 403 with any, as the schema says."""
    app = create_app(ServiceState(recommender=str(city["model"]), store=city["store"]), tmp_path / "e.sqlite")
    with live_server(app) as server:
        run_schemathesis(server.url, tmp_path, 3, 18, "--phases", "coverage", "--include-path-regex", "^/v1/admin/")


@pytest.mark.slow
def test_schemathesis_checks_all_long_run(city, tmp_path, live_server):
    """The size of the closing note's command (60 examples per operation), on two seeds."""
    app = create_app(ServiceState(recommender=str(city["model"]), store=city["store"]), tmp_path / "e.sqlite",
                     admin_token=TOKEN)  # fmt: skip
    with live_server(app) as server:
        for seed in (1, 2):
            run_schemathesis(server.url, tmp_path, 60, seed, "-H", f"Authorization: Bearer {TOKEN}")
