"""The kind validation's own manifests are valid and agree with each other, the images and the settings models.

The kind tier itself runs on demand (`make e2e-kind`, too slow for CI from a cold cache), so everything it
applies is also checked here, statically: strict Kubernetes schemas, the pool against the CRD and the
operator's model, the stand-in's environment against the stand-in's settings model, and the ports, names
and versions that tie run.sh, the kind config, the node image, the Services and the e2e suite's defaults
together.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from noetl_operator.spec import NoetlWorkerPool
from noetl_standin.settings import StandinSettings

from e2e.harness.settings import E2ESettings
from tests.shipping.dockerfiles import REPO_ROOT

pytestmark = pytest.mark.unit

KIND = REPO_ROOT / "e2e" / "kind"
RUN_SH = (KIND / "run.sh").read_text()


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KIND / name).read_text()) if doc]


def standin() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in documents("manifests/standin.yaml")}


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load((REPO_ROOT / "crds" / "noetl.io_noetlworkerpools.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def run_sh_value(variable: str) -> str:
    match = re.search(rf'^{variable}="(?:\$\{{{variable}:-)?([^"}}]+)', RUN_SH, re.MULTILINE)
    assert match, f"run.sh does not set {variable}"
    return match[1]


@pytest.mark.parametrize("name", ["manifests/standin.yaml", "manifests/nats.yaml"])
def test_the_manifests_validate_strictly(name: str) -> None:
    for manifest in documents(name):
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_the_install_kustomization_applies_nats_and_the_stand_in() -> None:
    (kustomization,) = documents("manifests/kustomization.yaml")
    assert sorted(kustomization["resources"]) == ["nats.yaml", "standin.yaml"]


def test_nats_services_are_where_pools_and_keda_look_for_them() -> None:
    services = {doc["metadata"]["name"]: doc for doc in documents("manifests/nats.yaml") if doc["kind"] == "Service"}
    settings = E2ESettings.model_fields
    client = services["nats"]
    (port,) = client["spec"]["ports"]
    assert (
        settings["nats_url"].default
        == f"nats://nats.{client['metadata']['namespace']}.svc.cluster.local:{port['port']}"
    )
    monitor = services["nats-headless"]
    ports = {item["name"]: item["port"] for item in monitor["spec"]["ports"]}
    endpoint = f"nats-headless.{monitor['metadata']['namespace']}.svc.cluster.local:{ports['monitor']}"
    assert settings["nats_monitoring_endpoint"].default == endpoint
    assert NoetlWorkerPool.model_validate(documents("manifests/demo-pool.yaml")[0]).spec.nats.monitoring_endpoint == (
        endpoint
    )


def test_the_stand_in_is_configured_only_through_settings_it_has() -> None:
    (container,) = standin()["Deployment"]["spec"]["template"]["spec"]["containers"]
    known = {f"NOETL_STANDIN_{name.upper()}" for name in StandinSettings.model_fields}
    unknown = sorted({item["name"] for item in container["env"]} - known)
    assert not unknown, f"the stand-in has no setting for {unknown}"
    # The environment must also parse: a typo in a value fails here, not in a CrashLoopBackOff.
    StandinSettings.model_validate(
        {item["name"].removeprefix("NOETL_STANDIN_").lower(): item["value"] for item in container["env"]}
    )


def test_the_stand_in_service_is_where_pools_and_the_suite_look_for_the_control_plane() -> None:
    service = standin()["Service"]
    (port,) = service["spec"]["ports"]
    in_cluster = (
        f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local:{port['port']}"
    )
    assert E2ESettings.model_fields["server_url"].default == in_cluster
    assert NoetlWorkerPool.model_validate(documents("manifests/demo-pool.yaml")[0]).spec.server.url == in_cluster
    (container,) = standin()["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["NOETL_STANDIN_SERVER_URL"] == in_cluster, "pointers must carry the URL workers can reach"


def test_the_host_reaches_the_stand_in_through_the_kind_port_mapping() -> None:
    (node,) = documents("cluster.yaml")[0]["nodes"]
    (mapping,) = node["extraPortMappings"]
    (port,) = standin()["Service"]["spec"]["ports"]
    assert mapping["containerPort"] == port["nodePort"]
    assert run_sh_value("CONTROL_PLANE_URL") == f"http://{mapping['listenAddress']}:{mapping['hostPort']}"


def test_run_sh_loads_every_image_the_manifests_run() -> None:
    built = {run_sh_value(name) for name in ("WORKER_IMAGE", "STANDIN_IMAGE", "OPERATOR_IMAGE")}
    (container,) = standin()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] in built
    pool = NoetlWorkerPool.model_validate(documents("manifests/demo-pool.yaml")[0])
    assert f"{pool.spec.image.repository}:{pool.spec.image.tag}" in built
    settings = E2ESettings.model_fields
    assert f"{settings['worker_image_repository'].default}:{settings['worker_image_tag'].default}" in built


def test_the_demo_pool_is_valid_for_the_crd_and_the_operator() -> None:
    (pool,) = documents("manifests/demo-pool.yaml")
    jsonschema.validate(pool, crd_schema())
    NoetlWorkerPool.model_validate(pool)


def test_run_sh_installs_the_operator_with_the_kind_overlay_and_runs_the_suite() -> None:
    assert 'kubectl apply --server-side -k "$repo_root/deploy/overlays/kind"' in RUN_SH
    assert "uv run pytest e2e/tests" in RUN_SH
    assert "NOETL_E2E_KUBECONFIG=" in RUN_SH
    assert "NOETL_E2E_CONTROL_PLANE_URL=" in RUN_SH
