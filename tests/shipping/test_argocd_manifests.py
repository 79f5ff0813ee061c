"""The Argo CD pieces: the Application, the sync order of the whole stack, and children Argo CD won't prune.

argocd/stack is what the example Application syncs (operator install + pools); it is rendered with
`kubectl kustomize` exactly like Argo CD's kustomize source does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from noetl_operator.builders import build_children
from noetl_operator.spec import NoetlWorkerPool

from tests.shipping.dockerfiles import REPO_ROOT
from tests.shipping.manifests import Manifest, named, of_kind, one, render, venv_tool
from tests.support.docsnippets import snippet

pytestmark = pytest.mark.unit

ARGOCD = REPO_ROOT / "argocd"
WAVE = "argocd.argoproj.io/sync-wave"
# Argo CD's default tracking label, and the annotation Argo CD 3.x tracks by.
TRACKING_LABEL = "app.kubernetes.io/instance"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"


@pytest.fixture(scope="module")
def stack() -> list[Manifest]:
    return render(ARGOCD / "stack")


def wave(manifest: Manifest) -> int:
    return int(manifest["metadata"].get("annotations", {}).get(WAVE, "0"))


def test_the_stack_is_the_operator_install_plus_the_pools(stack: list[Manifest]) -> None:
    operator = render(REPO_ROOT / "deploy" / "overlays" / "production")
    assert all(manifest in stack for manifest in operator), "the stack must install the production overlay unchanged"
    rest = [manifest for manifest in stack if manifest not in operator]
    assert {manifest["kind"] for manifest in rest} == {"Namespace", "NoetlWorkerPool"}
    assert all(manifest["metadata"].get("namespace", "noetl") == "noetl" for manifest in rest)


def test_pools_sync_after_the_operator_is_healthy(stack: list[Manifest]) -> None:
    operator = one(stack, "Deployment")
    crd = named(stack, "CustomResourceDefinition", "noetlworkerpools.noetl.io")
    for pool in of_kind(stack, "NoetlWorkerPool"):
        assert wave(pool) > wave(operator) > wave(crd)
        assert "SkipDryRunOnMissingResource=true" in pool["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
    for namespace in of_kind(stack, "Namespace"):
        assert wave(namespace) <= wave(crd), f"namespace {namespace['metadata']['name']} must exist first"


def test_built_in_objects_validate_strictly(stack: list[Manifest]) -> None:
    for manifest in stack:
        if manifest["kind"] != "NoetlWorkerPool":
            kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_pools_are_valid_for_the_crd_and_the_operator(stack: list[Manifest]) -> None:
    crd = named(stack, "CustomResourceDefinition", "noetlworkerpools.noetl.io")
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = version["schema"]["openAPIV3Schema"]
    for pool in of_kind(stack, "NoetlWorkerPool"):
        jsonschema.validate(pool, schema)
        NoetlWorkerPool.model_validate(pool)


def test_children_never_carry_argo_tracking_metadata(stack: list[Manifest]) -> None:
    # Children are linked by ownerReferences; copying the tracking label would make Argo CD prune them.
    for manifest in of_kind(stack, "NoetlWorkerPool"):
        tracked: dict[str, Any] = {
            **manifest,
            "metadata": {
                **manifest["metadata"],
                "uid": "0c9d3f5e-1b2a-4c3d-8e9f-a0b1c2d3e4f5",
                "labels": {TRACKING_LABEL: "noetl-workerpool"},
                "annotations": {TRACKING_ANNOTATION: "noetl-workerpool:noetl.io/NoetlWorkerPool:noetl/shared"},
            },
        }
        children = build_children(NoetlWorkerPool.model_validate(tracked)).present()
        assert children
        for child in children:
            metadata = child["metadata"]
            where = f"{child['kind']}/{metadata['name']}"
            assert TRACKING_LABEL not in metadata.get("labels", {}), f"{where} carries Argo CD's tracking label"
            assert TRACKING_ANNOTATION not in metadata.get("annotations", {}), f"{where} carries the tracking id"
            assert metadata["ownerReferences"][0]["kind"] == "NoetlWorkerPool"
            template = child.get("spec", {}).get("template", {}).get("metadata", {})
            assert TRACKING_LABEL not in template.get("labels", {}), f"{where}'s pods carry the tracking label"


def test_the_application_syncs_the_stack_server_side() -> None:
    application = yaml.safe_load((ARGOCD / "applications" / "noetl-workerpool.yaml").read_text())
    assert application["apiVersion"] == "argoproj.io/v1alpha1"
    assert application["kind"] == "Application"
    source = application["spec"]["source"]
    assert (REPO_ROOT / source["path"] / "kustomization.yaml").exists(), f"{source['path']} is not a kustomization"
    options = application["spec"]["syncPolicy"]["syncOptions"]
    assert "ServerSideApply=true" in options, "the CRD is too large for client-side apply's annotation"


def test_the_health_check_is_registered_under_argo_cds_key() -> None:
    (config_map,) = render(ARGOCD / "health")
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"] == {
        "name": "argocd-cm",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
    }
    script = (ARGOCD / "health" / "noetl.io" / "NoetlWorkerPool" / "health.lua").read_text()
    assert config_map["data"] == {"resource.customizations.health.noetl.io_NoetlWorkerPool": script}


POOL_FILES = [*sorted((REPO_ROOT / "examples" / "pools").glob("*.yaml")), ARGOCD / "pools" / "shared-pool.yaml"]


@pytest.mark.parametrize("source", POOL_FILES, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_rendered_children_of_every_shipped_pool_are_free_of_argo_tracking(source: Path, tmp_path: Path) -> None:
    # Argo CD stamps its tracking label and annotation on the pools it syncs; `noetl-operator render`
    # must not pass them on, exactly as the operator applies.
    pools = [document for document in yaml.safe_load_all(source.read_text()) if document]
    for pool in pools:
        metadata = pool.setdefault("metadata", {})
        metadata.setdefault("labels", {})[TRACKING_LABEL] = "noetl-workerpool"
        metadata.setdefault("annotations", {})[TRACKING_ANNOTATION] = "noetl-workerpool:noetl.io/NoetlWorkerPool:x"
    tracked = tmp_path / source.name
    tracked.write_text(yaml.safe_dump_all(pools))
    rendered = subprocess.run(
        [venv_tool("noetl-operator", "noetl-operator"), "render", "-f", str(tracked)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert rendered.returncode == 0, rendered.stderr
    children = [document for document in yaml.safe_load_all(rendered.stdout) if document]
    assert children, f"render printed nothing for {source.name}"
    for child in children:
        assert TRACKING_LABEL not in yaml.safe_dump(child), f"{child['kind']} carries {TRACKING_LABEL}"
        assert TRACKING_ANNOTATION not in yaml.safe_dump(child), f"{child['kind']} carries {TRACKING_ANNOTATION}"


DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"


def test_the_documented_application_is_the_shipped_one() -> None:
    # The tier (tests/argocd) syncs the documented snippet; this ties it to the file users apply.
    assert snippet(DEPLOY_DOC, "argocd-application") == (ARGOCD / "applications" / "noetl-workerpool.yaml").read_text()


def test_the_documented_argocd_cm_is_what_kubectl_apply_k_installs() -> None:
    assert yaml.safe_load(snippet(DEPLOY_DOC, "argocd-cm")) == one(render(ARGOCD / "health"), "ConfigMap")
