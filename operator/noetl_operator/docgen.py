"""Regenerate the reference sections of ``docs/operator.md`` (``python -m noetl_operator.docgen``).

The spec field table and the validation rules come from the generated CRD schema (itself generated from
``spec.py``), the conditions from ``status.py``, the settings from ``OperatorSettings``, the permissions
from the declared API calls, the metrics from ``metrics.METRICS``. Only the text between
``<!-- BEGIN GENERATED: x -->`` and ``<!-- END GENERATED: x -->`` markers is replaced; a test fails when
the file is out of date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from noetl_operator.crdgen import build_crd
from noetl_operator.handlers import FRAMEWORK_API_CALLS
from noetl_operator.kube import API_CALLS
from noetl_operator.metrics import METRICS
from noetl_operator.settings import OperatorSettings
from noetl_operator.status import CONDITION_DOCS

__all__ = ["DOC_PATH", "main", "render_document"]

DOC_PATH = Path("docs") / "operator.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{value}`" for value in node["enum"])
    kind = str(node.get("type", "object"))
    if kind == "array":
        return f"[]{_type(node.get('items') or {})}"
    if kind == "object" and "additionalProperties" in node:
        return f"map[string]{_type(node['additionalProperties'])}"
    if kind == "object" and node.get("x-kubernetes-preserve-unknown-fields"):
        return "object (passthrough)"
    return kind


def _default(node: dict[str, Any]) -> str:
    # An object's default is the sum of its fields' defaults, which have rows of their own.
    if "default" not in node or node["default"] in ({}, []) or node.get("properties"):
        return ""
    return f"`{json.dumps(node['default'], separators=(',', ':'))}`"


def _rows(node: dict[str, Any], path: str, required: set[str]) -> list[str]:
    rows: list[str] = []
    for name, prop in (node.get("properties") or {}).items():
        field = f"{path}.{name}"
        flag = " (required)" if name in required else ""
        rows.append(f"| `{field}` | {_type(prop)} | {_default(prop)} | {_cell(prop['description'])}{flag} |")
        child = prop.get("items") if prop.get("type") == "array" else prop
        if isinstance(child, dict) and child.get("properties"):
            suffix = "[]" if prop.get("type") == "array" else ""
            rows += _rows(child, field + suffix, set(child.get("required") or []))
    return rows


def _rules(node: dict[str, Any], path: str) -> list[str]:
    rows = [
        f"| `{path}` | `{_cell(rule['rule'])}` | {_cell(rule['message'])} |"
        for rule in node.get("x-kubernetes-validations", [])
    ]
    for name, prop in (node.get("properties") or {}).items():
        rows += _rules(prop, f"{path}.{name}")
    return rows


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def spec_section() -> str:
    """Every spec field with type, default and description."""
    spec = _schema()["properties"]["spec"]
    header = ["| Field | Type | Default | Description |", "|---|---|---|---|"]
    return "\n".join(header + _rows(spec, "spec", set(spec.get("required") or [])))


def rules_section() -> str:
    """The CEL rules the API server enforces (the model enforces the same offline)."""
    header = ["| Where | Rule (CEL) | Message |", "|---|---|---|"]
    return "\n".join(header + _rules(_schema(), "<object>"))


def status_section() -> str:
    """Status fields and the conditions."""
    status = _schema()["properties"]["status"]
    fields = ["| Field | Type | Description |", "|---|---|---|"]
    fields += [
        f"| `status.{name}` | {_type(prop)} | {_cell(prop['description'])} |"
        for name, prop in status["properties"].items()
    ]
    conditions = ["| Condition | True when |", "|---|---|"]
    conditions += [f"| `{kind.value}` | {_cell(text)} |" for kind, text in CONDITION_DOCS.items()]
    return "\n".join([*fields, "", *conditions])


def settings_section() -> str:
    """The operator's environment variables."""
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    names = OperatorSettings.env_names()
    for name, field in OperatorSettings.model_fields.items():
        default = "" if field.default is None else f"`{field.default}`"
        rows.append(f"| `{names[name]}` | {default} | {_cell(field.description or '')} |")
    return "\n".join(rows)


def rbac_section() -> str:
    """What the ClusterRole grants, grouped by resource."""
    verbs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for call in API_CALLS | FRAMEWORK_API_CALLS:
        verbs[(call.group or "core", call.resource)].add(call.verb)
    rows = ["| API group | Resource | Verbs | Used by |", "|---|---|---|---|"]
    for (group, resource), granted in sorted(verbs.items()):
        by = [
            user
            for user, calls in (("kopf", FRAMEWORK_API_CALLS), ("reconciler (`kube.py`)", API_CALLS))
            if any(call.resource == resource and (call.group or "core") == group for call in calls)
        ]
        users = ", ".join(by)
        rows.append(f"| `{group}` | `{resource}` | {', '.join(sorted(granted))} | {users} |")
    return "\n".join(rows)


def metrics_section() -> str:
    """Every metric of the operator's ``/metrics``."""
    rows = ["| Metric | Type | Labels | Meaning |", "|---|---|---|---|"]
    for spec in METRICS:
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "—"
        buckets = f" Buckets: {' '.join(f'{b:g}' for b in spec.buckets)}." if spec.buckets else ""
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {_cell(spec.help)}{buckets} |")
    return "\n".join(rows)


SECTIONS: dict[str, Callable[[], str]] = {
    "spec": spec_section,
    "rules": rules_section,
    "status": status_section,
    "settings": settings_section,
    "rbac": rbac_section,
    "metrics": metrics_section,
}


def render_document(text: str) -> str:
    """``text`` with every generated section replaced by its current content."""
    for name, build in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- BEGIN GENERATED: {name} -->\n)(?:.*?\n)?(<!-- END GENERATED: {name} -->)", flags=re.DOTALL
        )
        if not pattern.search(text):
            raise ValueError(f"{DOC_PATH} lacks the markers of the generated section {name!r}")
        content = build()

        def replace(match: re.Match[str], content: str = content) -> str:
            return match.group(1) + content + "\n" + match.group(2)

        text = pattern.sub(replace, text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check``, verify) the generated sections."""
    parser = argparse.ArgumentParser(prog="python -m noetl_operator.docgen", description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DOC_PATH, help=f"document (default {DOC_PATH})")
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is not up to date")
    args = parser.parse_args(argv)
    current = args.path.read_text(encoding="utf-8")
    try:
        updated = render_document(current)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    if args.check:
        if updated != current:
            print(f"{args.path} is out of date: run python -m noetl_operator.docgen", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(updated, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
