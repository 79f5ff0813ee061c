"""`kubectl apply -k deploy/overlays/<overlay>` is accepted by a real API server, and so are the pools we ship.

Schemas on disk cannot say whether kube-apiserver accepts the CRD (structural-schema rules, CEL
compilation and cost, defaults evaluated against CEL rules), whether RBAC escalation checks pass,
or whether a pool passes the CRD's CEL rules. The envtest API server can, so each overlay is applied
exactly as docs/deploy.md tells users to, then applied again (it must be idempotent), and the
example and e2e pools are applied on top.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.shipping.dockerfiles import REPO_ROOT
from tests.shipping.manifests import OVERLAYS, REQUIRED_INPUTS, kubectl, render, venv_tool
from tests.support.envtest import EnvtestCluster, require_assets, start_envtest

pytestmark = pytest.mark.envtest

IN_CI = os.environ.get("CI", "").lower() == "true"
# One field manager for every apply here: the tests share one API server, and each re-applies the install.
APPLY = ("apply", "--server-side", "--field-manager=noetl-install")


@pytest.fixture(scope="module")
def envtest() -> Iterator[EnvtestCluster]:
    with start_envtest(require_assets()) as cluster:
        yield cluster


def run_kubectl(envtest: EnvtestCluster, *args: str) -> str:
    result = subprocess.run(
        [kubectl(), "--kubeconfig", str(envtest.kubeconfig_path), *args],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def require_inputs() -> None:
    missing = [f"{name} ({why})" for name, why in REQUIRED_INPUTS.items() if not (REPO_ROOT / name).exists()]
    if missing:
        pytest.fail(f"the install cannot be applied: missing {', '.join(missing)}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_install_applies_cleanly_and_idempotently(envtest: EnvtestCluster, overlay: str) -> None:
    require_inputs()
    path = Path("deploy") / "overlays" / overlay
    run_kubectl(envtest, *APPLY, "-k", str(path))
    run_kubectl(envtest, "wait", "--for=condition=Established", "crd/noetlworkerpools.noetl.io", "--timeout=60s")
    again = run_kubectl(envtest, *APPLY, "-k", str(path))
    assert "configured" not in again.replace("serverside-applied", ""), f"a second apply changed something:\n{again}"
    deployment = run_kubectl(envtest, "-n", "noetl-system", "get", "deployment/noetl-operator", "-o", "name")
    assert deployment.strip() == "deployment.apps/noetl-operator"


def test_shipped_pools_pass_the_real_schema_and_cel_rules(envtest: EnvtestCluster) -> None:
    require_inputs()
    run_kubectl(envtest, *APPLY, "-k", "deploy/overlays/kind")
    run_kubectl(envtest, "wait", "--for=condition=Established", "crd/noetlworkerpools.noetl.io", "--timeout=60s")
    run_kubectl(envtest, *APPLY, "-k", "argocd/pools")
    run_kubectl(envtest, *APPLY, "-f", "e2e/kind/manifests/nats.yaml")
    run_kubectl(envtest, *APPLY, "-f", "e2e/kind/manifests/standin.yaml")
    run_kubectl(envtest, *APPLY, "-f", "e2e/kind/manifests/demo-pool.yaml")
    pools = run_kubectl(envtest, "-n", "noetl", "get", "noetlworkerpools", "-o", "name").split()
    assert sorted(pools) == ["noetlworkerpool.noetl.io/demo", "noetlworkerpool.noetl.io/shared"]


def pod_templates() -> list[tuple[str, dict[str, Any]]]:
    """(origin, pod spec) of every pod we ship or the operator builds for the shipped pools."""
    sources: list[tuple[str, list[dict[str, Any]]]] = [
        ("deploy/overlays/kind", render(REPO_ROOT / "deploy" / "overlays" / "kind")),
        *[
            (
                f"e2e/kind/manifests/{name}",
                list(yaml.safe_load_all((REPO_ROOT / "e2e/kind/manifests" / name).read_text())),
            )
            for name in ("standin.yaml", "nats.yaml")
        ],
    ]
    for pools in [
        *sorted((REPO_ROOT / "examples" / "pools").glob("*.yaml")),
        REPO_ROOT / "argocd/pools/shared-pool.yaml",
    ]:
        rendered = subprocess.run(
            [venv_tool("noetl-operator", "noetl-operator"), "render", "-f", str(pools)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        sources.append((pools.relative_to(REPO_ROOT).as_posix(), list(yaml.safe_load_all(rendered))))
    return [
        (f"{origin}: {doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"])
        for origin, docs in sources
        for doc in docs
        if doc and doc["kind"] == "Deployment"
    ]


def test_every_pod_we_ship_is_admitted_under_the_restricted_pod_security_standard(envtest: EnvtestCluster) -> None:
    namespace = f"restricted-{uuid.uuid4().hex[:6]}"
    run_kubectl(envtest, "create", "namespace", namespace)
    run_kubectl(envtest, "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    run_kubectl(envtest, "wait", "-n", namespace, "--for=jsonpath={.metadata.name}=default", "serviceaccount/default")
    templates = pod_templates()
    assert len(templates) >= 7, [origin for origin, _ in templates]
    for index, (origin, spec) in enumerate(templates):
        # Pod Security admission judges the pod spec; the ServiceAccount is not what is under test.
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"probe-{index}", "namespace": namespace},
            "spec": {**spec, "serviceAccountName": "default"},
        }
        result = subprocess.run(
            [kubectl(), "--kubeconfig", str(envtest.kubeconfig_path), "create", "--dry-run=server", "-f", "-"],
            input=json.dumps(pod),
            check=False,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{origin} is not admitted under restricted:\n{result.stderr}"
