"""`kubectl apply -k deploy/overlays/<overlay>` installs a valid, secure, correctly ordered operator.

Every overlay is rendered with `kubectl kustomize` and every object validated against the
Kubernetes OpenAPI schemas in strict mode (unknown fields are errors), the CRD included (against
apiextensions.k8s.io/v1). The remaining tests check what schemas cannot: that selectors, ports and
names line up, that the pod is locked down, and that Argo CD syncs the pieces in a working order.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
from noetl_operator.settings import OperatorSettings

from tests.shipping.dockerfiles import REPO_ROOT
from tests.shipping.manifests import OVERLAYS, Manifest, named, of_kind, one, render

pytestmark = pytest.mark.unit

# The oldest Kubernetes minor we support and the newest the validator knows.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
NAMESPACE = "noetl-system"
WAVE = "argocd.argoproj.io/sync-wave"
RBAC_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    name: str = request.param
    return name, render(REPO_ROOT / "deploy" / "overlays" / name)


def container(manifests: list[Manifest]) -> dict[str, Any]:
    deployment = one(manifests, "Deployment")
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def test_there_are_kind_and_production_overlays() -> None:
    assert {"kind", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_strictly_against_the_kubernetes_schemas(
    overlay: tuple[str, list[Manifest]], version: str
) -> None:
    name, manifests = overlay
    errors = []
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message} at {list(error.path)}")
    assert not errors, f"{name} on Kubernetes {version}:\n" + "\n".join(errors)


def test_installs_everything_the_operator_needs(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    kinds = {manifest["kind"] for manifest in manifests}
    assert {
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    } <= kinds
    assert kinds & {"ClusterRoleBinding", "RoleBinding"}, "no RBAC binding: the operator would be forbidden"
    crd = named(manifests, "CustomResourceDefinition", "noetlworkerpools.noetl.io")
    assert crd["spec"]["names"]["kind"] == "NoetlWorkerPool"


def test_namespaced_objects_live_in_the_operator_namespace(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    assert one(manifests, "Namespace")["metadata"]["name"] == NAMESPACE
    for manifest in manifests:
        if manifest["kind"] not in CLUSTER_SCOPED:
            assert manifest["metadata"].get("namespace") == NAMESPACE, f"{manifest['kind']} outside {NAMESPACE}"


def test_the_service_account_is_bound_by_the_rbac(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    account = one(manifests, "ServiceAccount")["metadata"]["name"]
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    bound = [
        subject
        for binding in of_kind(manifests, "ClusterRoleBinding") + of_kind(manifests, "RoleBinding")
        for subject in binding.get("subjects", [])
        if subject["kind"] == "ServiceAccount"
    ]
    assert {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE} in bound


def test_the_pod_is_locked_down(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(manifests)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container(manifests)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a read-only root needs an emptyDir at /tmp"


def test_probes_resources_and_ports_line_up(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    spec = container(manifests)
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert spec[probe]["httpGet"]["port"] in ports, f"{probe} targets an undeclared port"
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(spec["resources"][bound]), f"resources.{bound} must set cpu and memory"
    service = one(manifests, "Service")
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= set(ports)


def test_service_and_budget_select_the_operator_pods(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    deployment = one(manifests, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert one(manifests, "Service")["spec"]["selector"].items() <= pod_labels.items()
    assert one(manifests, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_argo_cd_syncs_crd_and_rbac_before_the_operator(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    waves = {}
    for manifest in manifests:
        annotations = manifest["metadata"].get("annotations", {})
        assert WAVE in annotations, f"{manifest['kind']}/{manifest['metadata']['name']} has no sync wave"
        waves[manifest["kind"], manifest["metadata"]["name"]] = int(annotations[WAVE])
    operator = waves["Deployment", "noetl-operator"]
    assert waves["CustomResourceDefinition", "noetlworkerpools.noetl.io"] < operator
    assert waves["Namespace", NAMESPACE] < operator
    for (kind, name), wave in waves.items():
        if kind in RBAC_KINDS or kind == "ServiceAccount":
            assert wave < operator, f"{kind}/{name} must sync before the operator"
    # Pools go in wave 1 or later (argocd/), so everything here must be at most 0.
    assert max(waves.values()) <= 0


def test_kind_runs_the_locally_loaded_image() -> None:
    spec = container(render(REPO_ROOT / "deploy" / "overlays" / "kind"))
    assert spec["image"] == "noetl-operator:dev"
    assert spec["imagePullPolicy"] == "Never"
    run_script = (REPO_ROOT / "e2e" / "kind" / "run.sh").read_text()
    assert "noetl-operator:dev" in run_script, "e2e/kind/run.sh must build the image the overlay runs"


def test_production_pins_a_released_image() -> None:
    spec = container(render(REPO_ROOT / "deploy" / "overlays" / "production"))
    repository, _, tag = spec["image"].partition("@")[0].rpartition(":")
    assert repository == "ghcr.io/noetl/noetl-workerpool-operator"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"production must pin a release tag, got {tag!r}"
    assert spec["imagePullPolicy"] == "IfNotPresent"


def test_the_operator_is_configured_only_through_settings_it_has(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    env = {item["name"]: item.get("value") for item in container(manifests)["env"]}
    ours = {name: value for name, value in env.items() if name.startswith("NOETL_OPERATOR_")}
    unknown = sorted(set(ours) - set(OperatorSettings.env_names().values()))
    assert not unknown, f"the operator has no setting for {unknown}"
    settings = OperatorSettings.from_env({name: value for name, value in ours.items() if value is not None})
    # One replica without kopf peering: it must run standalone, or it waits for a peering object.
    assert settings.standalone
    assert one(manifests, "Deployment")["spec"]["replicas"] == 1


def test_the_probes_hit_the_operators_liveness_endpoint(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    spec = container(manifests)
    env = {item["name"]: item.get("value") for item in spec["env"]}
    endpoint = urlsplit(env.get("NOETL_OPERATOR_LIVENESS_ENDPOINT") or OperatorSettings().liveness_endpoint)
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ports[spec[probe]["httpGet"]["port"]] == endpoint.port
        assert spec[probe]["httpGet"]["path"] == endpoint.path
