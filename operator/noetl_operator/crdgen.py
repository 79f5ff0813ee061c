"""Generate ``crds/noetl.io_noetlworkerpools.yaml`` from the pydantic models (``python -m noetl_operator.crdgen``).

The OpenAPI schema is built per model from pydantic's JSON schema, then made *structural* as the API
server requires: ``$ref`` inlined, ``anyOf [X, null]`` collapsed to ``X`` (an absent field is the null),
free-form maps marked ``x-kubernetes-preserve-unknown-fields``, titles dropped. Defaults come from the
models, including ``default_factory`` ones, serialised in full: the API server validates a default
against the object's CEL rules as written, without first applying the nested defaults.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from noetl_operator.spec import API_GROUP, API_VERSION, KIND, MAX_POOL_NAME_LENGTH, PLURAL, NoetlWorkerPoolSpec
from noetl_operator.status import PoolStatus

__all__ = ["CRD_PATH", "build_crd", "main", "model_schema", "render_crd"]

CRD_PATH = Path("crds") / f"{API_GROUP}_{PLURAL}.yaml"
_DROP = {"title"}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``Model``, ``Model | None`` or ``list[Model]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Inline refs, collapse nullable unions and replace free-form maps, recursively."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
        return _structural(merged, defs)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) == 1:
            rest = {key: value for key, value in node.items() if key != "anyOf"}
            return _structural({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: _structural(prop, defs) for name, prop in value.items()}
        else:
            out[key] = _structural(value, defs)
    if out.get("additionalProperties") is True:
        del out["additionalProperties"]
        out["x-kubernetes-preserve-unknown-fields"] = True
    if out.get("x-kubernetes-preserve-unknown-fields") and "type" not in out:
        out["type"] = "object"
    if out.get("default") is None:
        out.pop("default", None)
    return out


def _field_default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return value.model_dump(by_alias=True, mode="json", exclude_none=True)
        return value
    if field.default is PydanticUndefined or field.default is None:
        return None
    if isinstance(field.default, BaseModel):
        return field.default.model_dump(by_alias=True, mode="json", exclude_none=True)
    return getattr(field.default, "value", field.default)


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of ``model`` with descriptions, defaults and CEL rules."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema: dict[str, Any] = {"type": "object", "description": (model.__doc__ or "").strip().splitlines()[0]}
    extra = model.model_config.get("json_schema_extra")
    if isinstance(extra, dict):
        schema.update(extra)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        nested = _model_of(field.annotation)
        prop = _structural(raw["properties"][alias], defs)
        if nested is not None:
            nested_schema = model_schema(nested)
            if prop.get("type") == "array":
                prop = {key: value for key, value in prop.items() if key not in ("items", "properties")}
                prop["items"] = nested_schema
            else:
                prop = {**nested_schema, **{key: value for key, value in prop.items() if key == "default"}}
        if field.description is None:
            raise ValueError(f"{model.__name__}.{name} has no description")
        prop["description"] = field.description
        default = _field_default(field)
        if default is not None:
            prop["default"] = default
        elif "default" in prop:
            del prop["default"]
        if field.is_required():
            required.append(alias)
        properties[alias] = prop
    schema["properties"] = properties
    if required:
        schema["required"] = required
    return schema


def build_crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition document."""
    root: dict[str, Any] = {
        "type": "object",
        "description": "A pool of NoETL workers: a Deployment, its JetStream consumer and its KEDA autoscaler.",
        "x-kubernetes-validations": [
            {
                "rule": f"size(self.metadata.name) <= {MAX_POOL_NAME_LENGTH}",
                "message": f"metadata.name must be at most {MAX_POOL_NAME_LENGTH} characters (children add suffixes)",
            }
        ],
        "properties": {
            "apiVersion": {"type": "string", "description": "API version of the object."},
            "kind": {"type": "string", "description": "Kind of the object."},
            # The API server forbids anything but `type` on metadata (name/generateName rules live in CEL above).
            "metadata": {"type": "object"},
            "spec": model_schema(NoetlWorkerPoolSpec),
            "status": model_schema(PoolStatus),
        },
        "required": ["spec"],
    }
    ready = '.status.conditions[?(@.type=="Ready")].status'
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{API_GROUP}",
            "labels": {"app.kubernetes.io/name": "noetl-operator", "app.kubernetes.io/part-of": "noetl-workerpool"},
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["nwp"],
                "categories": ["noetl"],
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {
                        "status": {},
                        # `kubectl scale` works for fixed-size pools; CEL rejects it while KEDA owns replicas.
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Ready", "type": "string", "jsonPath": ready},
                        {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas"},
                        {"name": "Lag", "type": "integer", "jsonPath": ".status.lag.total"},
                        {"name": "Runtime", "type": "string", "jsonPath": ".spec.runtime"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


# Reading order of schema keywords in the YAML: what a field is, then its constraints, then its children.
_KEY_ORDER = (
    "type",
    "description",
    "default",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "maxItems",
    "items",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "required",
    "properties",
)


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its keywords in reading order, recursively (property names keep their order)."""
    rank = {key: index for index, key in enumerate(_KEY_ORDER)}
    out: dict[str, Any] = {}
    for key in sorted(schema, key=lambda key: rank.get(key, len(rank))):
        value = schema[key]
        if key == "properties":
            value = {name: _ordered(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = _ordered(value)
        out[key] = value
    return out


def render_crd() -> str:
    """The CRD as YAML text, with a header saying it is generated."""
    header = "# GENERATED by `python -m noetl_operator.crdgen` from noetl_operator.spec; do not edit.\n"
    crd = build_crd()
    for version in crd["spec"]["versions"]:
        version["schema"]["openAPIV3Schema"] = _ordered(version["schema"]["openAPIV3Schema"])
    return header + yaml.safe_dump(crd, sort_keys=False, width=120)


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check``, verify) the CRD file."""
    parser = argparse.ArgumentParser(prog="python -m noetl_operator.crdgen", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=CRD_PATH, help=f"target file (default {CRD_PATH})")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    args = parser.parse_args(argv)
    text = render_crd()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m noetl_operator.crdgen", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
