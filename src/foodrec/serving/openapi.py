"""The service's OpenAPI schema without serving anything: print it, write it, check the committed copy.

``docs/openapi.json`` is the committed contract of the API. After changing a route or a model, regenerate it::

    python -m foodrec.serving.openapi --out docs/openapi.json

and the tests check that it equals what the app generates and that the change is backward compatible within
``/v1`` (:mod:`foodrec.serving.compat`)::

    python -m foodrec.serving.openapi --check docs/openapi.json     # exit 1 with the differences

The schema is the app's own (``create_app`` with no models loaded: routes and models do not depend on them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REGENERATE = "python -m foodrec.serving.openapi --out docs/openapi.json"


class _NoModels:
    """Stands in for a ServiceState: the schema needs the routes, not the models."""

    def bind_events(self, store: Any) -> None:
        pass


def generate() -> dict[str, Any]:
    """The OpenAPI document of :func:`foodrec.serving.app.create_app`, as ``/openapi.json`` serves it."""
    from foodrec.serving.app import create_app

    with tempfile.TemporaryDirectory(prefix="foodrec-openapi-") as tmp:
        app = create_app(_NoModels(), Path(tmp) / "events.sqlite")  # type: ignore[arg-type]
        try:
            return app.openapi()
        finally:
            app.state.service.events.close()


def render(schema: dict[str, Any]) -> str:
    """The committed form: indented JSON, keys in the app's order, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m foodrec.serving.openapi", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--out", type=Path, help="write the schema here (default: print it)")
    group.add_argument("--check", type=Path, help="exit 1 unless this file is the current schema and compatible")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
        return 0
    if args.check:
        return check(args.check, text)
    sys.stdout.write(text)
    return 0


def check(path: Path, text: str) -> int:
    from foodrec.serving.compat import breaking_changes

    if not path.is_file():
        print(f"error: {path} does not exist; create it with `{REGENERATE}`", file=sys.stderr)
        return 2
    committed = path.read_text(encoding="utf-8")
    try:
        old = json.loads(committed)
    except json.JSONDecodeError as err:
        print(f"error: {path} is not JSON ({err}); regenerate it with `{REGENERATE}`", file=sys.stderr)
        return 2
    problems = breaking_changes(old, json.loads(text))
    for problem in problems:
        print(f"breaking: {problem}", file=sys.stderr)
    if committed != text:
        print(f"{path} is not the app's schema; regenerate it with `{REGENERATE}`", file=sys.stderr)
    return 1 if problems or committed != text else 0


if __name__ == "__main__":
    sys.exit(main())
