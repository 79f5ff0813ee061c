"""The committed CRD is generated from the model, is structural, and enforces the same rules as the model."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from noetl_operator.crdgen import CRD_PATH, build_crd, main, render_crd
from noetl_operator.spec import PoolSpecError, parse_pool

from tests.operator.conftest import EXAMPLE_FILES, example_pool
from tests.operator.crdcheck import ROOT, apply_defaults, crd_schema, validate

pytestmark = pytest.mark.unit

SCHEMA = crd_schema(ROOT / CRD_PATH)


def test_committed_crd_is_up_to_date() -> None:
    committed = (ROOT / CRD_PATH).read_text(encoding="utf-8")
    assert committed == render_crd(), "crds/ is stale: run `uv run python -m noetl_operator.crdgen`"


def test_check_mode_reports_a_stale_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "crd.yaml"
    stale.write_text("old", encoding="utf-8")
    assert main(["--check", "--output", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--output", str(stale)]) == 0
    assert main(["--check", "--output", str(stale)]) == 0


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, prop in (schema.get("properties") or {}).items():
        found += _walk(prop, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += _walk(schema["items"], f"{path}[]")
    return found


def test_schema_is_structural_with_a_description_on_every_field() -> None:
    for path, node in _walk(SCHEMA):
        assert "type" in node, f"{path} has no type"
        # Array items are not fields; every field (and every object) is described.
        if path != ".metadata" and (not path.endswith("[]") or node.get("properties")):
            assert node.get("description"), f"{path} has no description"
        for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "title"):
            assert forbidden not in node, f"{path} uses {forbidden}"
        if node.get("additionalProperties") is True:
            pytest.fail(f"{path}: free-form maps must use x-kubernetes-preserve-unknown-fields")


def test_crd_identity_subresources_and_printer_columns() -> None:
    crd = build_crd()
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "noetlworkerpools.noetl.io"
    assert (spec["group"], spec["scope"], spec["names"]["kind"], spec["names"]["shortNames"]) == (
        "noetl.io",
        "Namespaced",
        "NoetlWorkerPool",
        ["nwp"],
    )
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"]["status"] == {}
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    assert [column["name"] for column in version["additionalPrinterColumns"]] == [
        "Ready",
        "Replicas",
        "Lag",
        "Runtime",
        "Age",
    ]


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_pools_pass_the_crd_schema_and_its_cel_rules(name: str) -> None:
    assert validate(SCHEMA, example_pool(name)) == []


# Each case breaks one rule; the CRD (schema + CEL) and the model must both reject it.
BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("min > max", {"autoscaling": {"minReplicas": 9, "maxReplicas": 3}}, "minReplicas must be <="),
    ("replicas with KEDA", {"replicas": 2}, "replicas is only allowed when autoscaling.enabled is false"),
    ("no tag or digest", {"image": {"repository": "r"}}, "image.tag or image.digest must be set"),
    ("latest", {"image": {"tag": "latest"}}, "image.tag 'latest' is not reproducible"),
    ("zero lag threshold", {"autoscaling": {"lagThreshold": 0}}, "lagThreshold"),
    ("negative activation", {"autoscaling": {"activationLagThreshold": -1}}, "activationLagThreshold"),
    ("bad enum", {"runtime": "jvm"}, "runtime"),
    ("backoff vs maxDeliver", {"consumer": {"maxDeliver": 2, "backoffSeconds": [1, 2]}}, "backoffSeconds"),
    ("rust with TLS", {"runtime": "rust", "nats": {"tls": {"secretName": "ca"}}}, "nats.tls is not supported"),
    ("unknown field", {"autoscalling": {}}, "autoscalling"),
]


def _broken(change: dict[str, Any]) -> dict[str, Any]:
    pool = copy.deepcopy(example_pool("minimal.yaml"))
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(pool["spec"].get(key), dict):
            pool["spec"][key] = {**pool["spec"][key], **value}
        else:
            pool["spec"][key] = value
    if "image" in change:
        pool["spec"]["image"] = change["image"]
    return pool


@pytest.mark.parametrize(("case", "change", "expected"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_crd_and_model_reject_the_same_pools(case: str, change: dict[str, Any], expected: str) -> None:
    pool = _broken(change)
    crd_errors = validate(SCHEMA, pool)
    assert any(expected in error for error in crd_errors), (case, crd_errors)
    with pytest.raises(PoolSpecError) as caught:
        parse_pool(pool)
    assert any(expected in problem for problem in caught.value.problems), (case, caught.value.problems)


def test_a_fixed_size_pool_may_set_replicas() -> None:
    pool = _broken({"autoscaling": {"enabled": False}, "replicas": 3})
    assert validate(SCHEMA, pool) == []
    assert parse_pool(pool).spec.effective_replicas == 3


def test_crd_defaults_match_the_model_defaults() -> None:
    pool = example_pool("minimal.yaml")
    defaulted = apply_defaults(SCHEMA, copy.deepcopy(pool))["spec"]
    model = parse_pool(pool).spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert defaulted == model


def _pools_kept_in_the_repository() -> list[tuple[str, dict[str, Any]]]:
    """Every NoetlWorkerPool document anywhere in the repository (examples, Argo CD, e2e manifests)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(ROOT.rglob("*.yaml")):
        relative = path.relative_to(ROOT)
        if relative.parts[0].startswith(".") or "golden" in relative.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "kind: NoetlWorkerPool" not in text:
            continue
        for index, document in enumerate(yaml.safe_load_all(text)):
            if isinstance(document, dict) and document.get("kind") == "NoetlWorkerPool":
                found.append((f"{relative}#{index + 1}", document))
    return found


KEPT_POOLS = _pools_kept_in_the_repository()


@pytest.mark.parametrize(("where", "pool"), KEPT_POOLS, ids=[where for where, _ in KEPT_POOLS])
def test_every_pool_kept_in_the_repository_is_valid(where: str, pool: dict[str, Any]) -> None:
    assert validate(SCHEMA, pool) == [], where
    parse_pool(pool)
