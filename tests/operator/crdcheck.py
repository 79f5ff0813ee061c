"""Validate an object against a CRD's OpenAPI schema the way the API server does: defaults, schema, CEL.

jsonschema checks the structural schema (types, patterns, bounds, enums, required fields, unknown fields
where the schema is closed); cel-python evaluates every ``x-kubernetes-validations`` rule with ``self``
bound to the value at the rule's node, after defaulting, as the API server does.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]


def crd_schema(path: Path) -> dict[str, Any]:
    """The openAPIV3Schema of the first served version of the CRD at ``path``."""
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _closed(schema: Any) -> Any:
    """Structural schemas prune unknown fields; for tests, reject them instead so typos are caught."""
    if isinstance(schema, dict):
        out = {key: _closed(value) for key, value in schema.items() if not key.startswith("x-kubernetes")}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Fill in ``default``s recursively, including inside defaulted objects (API-server semantics)."""
    if isinstance(value, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                value[name] = apply_defaults(prop, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def cel_errors(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Messages of every failing ``x-kubernetes-validations`` rule under ``schema``."""
    errors: list[str] = []
    env = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations") or []:
        program = env.program(env.compile(rule["rule"]))
        result = program.evaluate({"self": celpy.json_to_cel(value)})
        if isinstance(result, Exception) or not bool(result):
            errors.append(f"{path or '<root>'}: {rule['message']}")
    if isinstance(value, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if name in value:
                errors += cel_errors(prop, value[name], f"{path}.{name}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            errors += cel_errors(schema["items"], item, f"{path}[{index}]")
    return errors


def validate(schema: dict[str, Any], obj: dict[str, Any], *, closed: bool = True) -> list[str]:
    """All schema and CEL errors for ``obj`` (after defaulting), as ``path: message`` strings."""
    defaulted = apply_defaults(schema, copy.deepcopy(obj))
    checker = jsonschema.Draft7Validator(_closed(schema) if closed else schema)
    errors = [
        f".{'.'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in checker.iter_errors(defaulted)
    ]
    return errors or cel_errors(schema, defaulted)
