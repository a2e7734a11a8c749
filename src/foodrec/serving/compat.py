"""Is a new OpenAPI schema backward compatible with an old one within ``/v1``? Lists what would break clients.

A client written against the old schema must keep working against the new one, so:

- every ``/v1`` path and operation stays, and every 2xx answer it had;
- a request the old schema accepted is accepted by the new one: no new required parameter, header or body field,
  no parameter or field removed, no narrower type, range, length, pattern, format or enum (fewer values);
- an answer the new schema allows was allowed by the old one: no response field removed or made optional, no
  wider type (e.g. now nullable), no new enum value.

Additions are free: new paths, operations, optional parameters and fields, new error statuses.

>>> old = {"paths": {"/v1/x": {"get": {"parameters": [], "responses": {"200": {"content": {"application/json":
...     {"schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}}}}}}}
>>> new = {"paths": {"/v1/x": {"get": {"parameters": [{"name": "k", "in": "query", "required": True,
...     "schema": {"type": "integer"}}], "responses": {"200": {"content": {"application/json":
...     {"schema": {"type": "object", "properties": {}}}}}}}}}}
>>> for problem in breaking_changes(old, new):
...     print(problem)
GET /v1/x: new required query parameter 'k'
GET /v1/x 200 response: field 'a' removed
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
NUMBER_TYPES = {"integer", "number"}


def breaking_changes(old: Schema, new: Schema, prefix: str = "/v1") -> list[str]:
    """One line per change of ``new`` that breaks a client of ``old`` (empty: compatible), for paths under
    ``prefix``."""
    problems: list[str] = []
    old_paths, new_paths = old.get("paths", {}), new.get("paths", {})
    for path, old_item in old_paths.items():
        if not path.startswith(prefix):
            continue
        new_item = new_paths.get(path)
        if new_item is None:
            problems.append(f"{path}: path removed")
            continue
        for method in METHODS:
            if method not in old_item:
                continue
            where = f"{method.upper()} {path}"
            if method not in new_item:
                problems.append(f"{where}: operation removed")
                continue
            problems += _operation(where, old_item[method], new_item[method], old, new)
    return problems


def _operation(where: str, old_op: Schema, new_op: Schema, old: Schema, new: Schema) -> list[str]:
    problems = []
    old_params = {(p["in"], p["name"]): p for p in (_resolve(old, p) for p in old_op.get("parameters", []))}
    new_params = {(p["in"], p["name"]): p for p in (_resolve(new, p) for p in new_op.get("parameters", []))}
    for key, param in new_params.items():
        if param.get("required") and not old_params.get(key, {}).get("required"):
            state = "new required" if key not in old_params else "now required:"
            problems.append(f"{where}: {state} {key[0]} parameter {key[1]!r}")
    for key, param in old_params.items():
        if key not in new_params:
            problems.append(f"{where}: {key[0]} parameter {key[1]!r} removed")
            continue
        label = f"{where}: {key[0]} parameter {key[1]!r}"
        problems += _narrower(label, param.get("schema", {}), new_params[key].get("schema", {}), old, new)
    old_sec, new_sec = old_op.get("security"), new_op.get("security")
    if new_sec and not old_sec:
        problems.append(f"{where}: now needs authentication")
    problems += _request_body(where, old_op, new_op, old, new)
    for status, old_response in old_op.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        new_response = new_op.get("responses", {}).get(status)
        if new_response is None:
            problems.append(f"{where}: {status} response removed")
            continue
        old_body, new_body = _json_schema(old, old_response), _json_schema(new, new_response)
        if old_body is not None and new_body is None:
            problems.append(f"{where} {status} response: JSON body removed")
        elif old_body is not None and new_body is not None:
            # Every answer the new schema allows must be one the old schema allowed: new narrower-or-equal.
            problems += _narrower(f"{where} {status} response", new_body, old_body, new, old, response=True)
    return problems


def _request_body(where: str, old_op: Schema, new_op: Schema, old: Schema, new: Schema) -> list[str]:
    old_body, new_body = old_op.get("requestBody"), new_op.get("requestBody")
    if new_body is None:
        return [f"{where}: request body removed"] if old_body is not None else []
    new_body = _resolve(new, new_body)
    if old_body is None:
        return [f"{where}: new required request body"] if new_body.get("required") else []
    old_body = _resolve(old, old_body)
    problems = []
    if new_body.get("required") and not old_body.get("required"):
        problems.append(f"{where}: request body now required")
    old_schema, new_schema = _json_schema(old, old_body), _json_schema(new, new_body)
    if old_schema is not None:
        if new_schema is None:
            problems.append(f"{where}: request body no longer JSON")
        else:
            problems += _narrower(f"{where} request body", old_schema, new_schema, old, new)
    return problems


def _json_schema(doc: Schema, holder: Schema) -> Schema | None:
    content = _resolve(doc, holder).get("content", {})
    media = content.get("application/json")
    return None if media is None else media.get("schema", {})


def _resolve(doc: Schema, node: Schema, seen: frozenset[str] = frozenset()) -> Schema:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not ref or ref in seen:
        return node
    target: Any = doc
    for part in ref.lstrip("#/").split("/"):
        target = target.get(part, {})
    return _resolve(doc, target, seen | {ref})


def _branches(doc: Schema, schema: Schema) -> list[Schema]:
    schema = _resolve(doc, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [b for branch in schema[key] for b in _branches(doc, branch)]
    return [schema]


def _types(doc: Schema, schema: Schema) -> set[str] | None:
    """The JSON types a schema admits; None when any type is."""
    types: set[str] = set()
    for branch in _branches(doc, schema):
        t = branch.get("type")
        if t is None:
            if "properties" in branch:
                t = "object"
            elif "items" in branch:
                t = "array"
            elif "enum" in branch or "const" in branch:
                values = branch.get("enum", [branch.get("const")])
                types |= {_json_type(v) for v in values}
                continue
            else:
                return None
        types |= {t} if isinstance(t, str) else set(t)
    if "number" in types:
        types.add("integer")
    return types


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "string")


def _narrower(label: str, wide: Schema, narrow: Schema, wide_doc: Schema, narrow_doc: Schema, *,
              response: bool = False, depth: int = 0) -> list[str]:  # fmt: skip
    """Ways in which ``narrow`` rejects values ``wide`` accepts (for a response, ``wide`` is the old schema)."""
    if depth > 12:
        return []
    wide_types, narrow_types = _types(wide_doc, wide), _types(narrow_doc, narrow)
    problems = []
    if narrow_types is not None and (wide_types is None or not wide_types <= narrow_types):
        lost = "any type" if wide_types is None else ", ".join(sorted(wide_types - narrow_types))
        problems.append(f"{label}: type widened (may now be {lost})" if response else f"{label}: type narrowed "
                        f"(no longer accepts {lost})")  # fmt: skip
    wide_b, narrow_b = _branches(wide_doc, wide), _branches(narrow_doc, narrow)
    w = next((b for b in wide_b if b.get("type") != "null"), wide_b[0] if wide_b else {})
    n = next((b for b in narrow_b if b.get("type") != "null"), narrow_b[0] if narrow_b else {})
    what = "widened" if response else "narrowed"

    def change(key: str) -> str:  # "old -> new"
        before, after = (n.get(key, "none"), w.get(key, "none")) if response else (w.get(key, "none"), n[key])
        return f"{before!r} -> {after!r}"

    for key, tighter in (("minLength", max), ("minimum", max), ("exclusiveMinimum", max), ("minItems", max),
                         ("maxLength", min), ("maximum", min), ("exclusiveMaximum", min), ("maxItems", min),
                         ("maxProperties", min)):  # fmt: skip
        if key in n and (key not in w or tighter(w[key], n[key]) != w[key]):
            problems.append(f"{label}: {key} {what} ({change(key)})")
    for key in ("pattern", "format"):
        if key in n and n[key] != w.get(key):
            problems.append(f"{label}: {key} {what} ({change(key)})")
    if "enum" in n:
        lost_values = [v for v in w.get("enum", []) if v not in n["enum"]] if "enum" in w else ["(any value)"]
        if lost_values:
            kind = "new enum value(s)" if response else "enum value(s) removed"
            problems.append(f"{label}: {kind}: {', '.join(map(str, lost_values))}")
    problems += _narrower_object(label, w, n, wide_doc, narrow_doc, response, depth)
    if "items" in w or "items" in n:
        problems += _narrower(f"{label}[]", w.get("items", {}), n.get("items", {}), wide_doc, narrow_doc,
                              response=response, depth=depth + 1)  # fmt: skip
    if isinstance(w.get("additionalProperties"), dict) or isinstance(n.get("additionalProperties"), dict):
        w_values, n_values = w.get("additionalProperties"), n.get("additionalProperties")
        problems += _narrower(f"{label}{{}}", w_values if isinstance(w_values, dict) else {},
                              n_values if isinstance(n_values, dict) else {}, wide_doc, narrow_doc,
                              response=response, depth=depth + 1)  # fmt: skip
    return problems


def _narrower_object(label: str, w: Schema, n: Schema, wide_doc: Schema, narrow_doc: Schema, response: bool,
                     depth: int) -> list[str]:  # fmt: skip
    problems = []
    w_props, n_props = w.get("properties", {}), n.get("properties", {})
    w_required, n_required = set(w.get("required", ())), set(n.get("required", ()))
    for name in sorted(n_required - w_required):
        if response:  # w is the new schema, n the old one
            problems.append(f"{label}: field {name!r} {'now optional' if name in w_props else 'removed'}")
        else:
            problems.append(f"{label}: {'new required field' if name not in w_props else 'field now required:'} "
                            f"{name!r}")  # fmt: skip
    if response:  # an old response field the new schema no longer has at all
        problems += [f"{label}: field {name!r} removed" for name in sorted(set(n_props) - set(w_props))
                     if name not in n_required - w_required]  # fmt: skip
    elif n.get("additionalProperties") is False:
        problems += [f"{label}: field {name!r} removed" for name in sorted(set(w_props) - set(n_props))]
    if n.get("additionalProperties") is False and w.get("additionalProperties") is not False and not response:
        problems.append(f"{label}: unknown fields now refused")
    for name in sorted(set(w_props) & set(n_props)):
        problems += _narrower(f"{label}: field {name!r}", w_props[name], n_props[name], wide_doc, narrow_doc,
                              response=response, depth=depth + 1)  # fmt: skip
    return problems
