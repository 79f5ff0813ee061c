"""The CRD, the examples and the operator against a real kube-apiserver (envtest tier).

What only a real API server proves: the generated CRD is accepted, its defaults and CEL rules behave as
the model says, and the operator — logged in as its own ServiceAccount with exactly deploy/base/rbac.yaml —
can reconcile a pool end to end (status, children, finalizer) under the real authorizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kopf
import kubernetes.client
import nats
import pytest
import yaml
from kubernetes.client import ApiException
from noetl_operator.crdgen import CRD_PATH
from noetl_operator.handlers import build_registry
from noetl_operator.kube import KubeClient
from noetl_operator.kubeconfig import load_connection
from noetl_operator.settings import OperatorSettings
from noetl_operator.spec import parse_pool

from tests.operator.conftest import EXAMPLE_FILES, example_pool, example_secrets, nats_connect
from tests.operator.crdcheck import ROOT
from tests.operator.test_crdgen import BROKEN, _broken
from tests.support.envtest import EnvtestCluster, install_keda_crds, require_assets, start_envtest, start_keda
from tests.support.nats import NatsServer, free_port

pytestmark = pytest.mark.envtest

GROUP, VERSION, PLURAL = "noetl.io", "v1alpha1", "noetlworkerpools"
_counter = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[EnvtestCluster]:
    with start_envtest(require_assets(keda=True)) as running:
        _install_crds(running)
        install_keda_crds(running)
        yield running


def _install_crds(cluster: EnvtestCluster) -> None:
    with cluster.api_client() as api:
        ext = kubernetes.client.ApiextensionsV1Api(api)
        names = []
        for path in (ROOT / CRD_PATH, ROOT / "crds" / "kopf.dev_peerings.yaml"):
            for body in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                ext.create_custom_resource_definition(body)
                names.append(body["metadata"]["name"])
        deadline = time.monotonic() + 30
        for name in names:
            while not any(
                c.type == "Established" and c.status == "True"
                for c in (ext.read_custom_resource_definition(name).status.conditions or [])
            ):
                assert time.monotonic() < deadline, f"CRD {name} not Established"
                time.sleep(0.1)


@pytest.fixture
def namespace(cluster: EnvtestCluster) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    with cluster.api_client() as api:
        kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name


def _create_pool(cluster: EnvtestCluster, namespace: str, pool: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(pool)
    body["metadata"] = {"name": body["metadata"]["name"], "namespace": namespace}
    with cluster.api_client() as api:
        created: dict[str, Any] = kubernetes.client.CustomObjectsApi(api).create_namespaced_custom_object(
            # kubectl's default: unknown fields are an error, not silently pruned.
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            body,
            field_validation="Strict",
        )
    return created


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_examples_are_accepted_and_defaulted_like_the_model(cluster: EnvtestCluster, namespace: str, name: str) -> None:
    created = _create_pool(cluster, namespace, example_pool(name))
    expected = parse_pool(example_pool(name)).spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert created["spec"] == expected


@pytest.mark.parametrize(("case", "change", "expected"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_invalid_pools_are_rejected_by_the_api_server(
    cluster: EnvtestCluster, namespace: str, case: str, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ApiException) as caught:
        _create_pool(cluster, namespace, _broken(change))
    assert caught.value.status in (400, 422), case  # 400: strict field validation; 422: schema and CEL
    message = json.loads(caught.value.body)["message"]
    assert expected in message, (case, message)


def test_kubectl_scale_works_only_for_fixed_size_pools(cluster: EnvtestCluster, namespace: str) -> None:
    fixed = _broken({"autoscaling": {"enabled": False}, "replicas": 1})
    fixed["metadata"]["name"] = "fixed"
    _create_pool(cluster, namespace, fixed)
    _create_pool(cluster, namespace, example_pool("minimal.yaml"))
    with cluster.api_client() as api:
        custom = kubernetes.client.CustomObjectsApi(api)
        scale_to_4 = {"spec": {"replicas": 4}}
        custom.patch_namespaced_custom_object_scale(GROUP, VERSION, namespace, PLURAL, "fixed", scale_to_4)
        assert custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "fixed")["spec"]["replicas"] == 4
        with pytest.raises(ApiException) as caught:
            custom.patch_namespaced_custom_object_scale(GROUP, VERSION, namespace, PLURAL, "minimal", scale_to_4)
    assert "replicas is only allowed when autoscaling.enabled is false" in json.loads(caught.value.body)["message"]


def _operator_kubeconfig(cluster: EnvtestCluster) -> Path:
    """Apply deploy/base/rbac.yaml and return a kubeconfig of the operator's ServiceAccount."""
    with cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        with contextlib.suppress(ApiException):
            core.create_namespace({"metadata": {"name": "noetl-system"}})
        rbac = kubernetes.client.RbacAuthorizationV1Api(api)
        for doc in yaml.safe_load_all((ROOT / "deploy" / "base" / "rbac.yaml").read_text(encoding="utf-8")):
            with contextlib.suppress(ApiException):
                if doc["kind"] == "ClusterRole":
                    rbac.create_cluster_role(doc)
                else:
                    rbac.create_cluster_role_binding(doc)
    return cluster.service_account_kubeconfig("noetl-system", "noetl-operator")


async def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_the_operator_reconciles_with_its_own_least_privilege_rbac(
    cluster: EnvtestCluster, namespace: str, nats_server: NatsServer
) -> None:
    stream = f"ENVTEST_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    client = await nats_connect(nats_server.url)
    js = client.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    pool = example_pool("autoscaled-keychain.yaml")
    pool["spec"]["nats"] = {"url": nats_server.url, "stream": stream, "subject": stream.lower()}
    pool["spec"]["consumer"].update({"filterSubject": f"{stream.lower()}.shared.>", "preventDelete": False})
    with cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        for secret in example_secrets("autoscaled-keychain.yaml"):
            secret["metadata"]["namespace"] = namespace
            core.create_namespaced_secret(namespace, secret)

    settings = OperatorSettings(
        standalone=True, kubeconfig=str(_operator_kubeconfig(cluster)), resync_interval_seconds=2
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(registry=build_registry(settings), clusterwide=True, standalone=True, stop_flag=stop)
    )
    api = cluster.api_client()
    custom = kubernetes.client.CustomObjectsApi(api)
    apps = kubernetes.client.AppsV1Api(api)
    try:
        _create_pool(cluster, namespace, pool)

        def status() -> dict[str, Any]:
            body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shared")
            return dict(body.get("status") or {})

        def condition(kind: str) -> str | None:
            return next((c["status"] for c in status().get("conditions", []) if c["type"] == kind), None)

        await _eventually(lambda: condition("ConsumerReady") == "True", "ConsumerReady=True")
        current = status()
        assert current["observedGeneration"] == 1
        assert condition("SecretsResolved") == "True"
        assert current["keychainEnvVars"] == ["DUFFEL_API_KEY", "NOETL_FLIGHT_BEARER_TOKEN", "NOETL_INTERNAL_API_TOKEN"]
        deployment = apps.read_namespaced_deployment("noetl-worker-shared", namespace)
        assert deployment.spec.replicas == 1, "no replicas written: the API server defaulted them"
        owner = deployment.metadata.owner_references[0]
        assert (owner.kind, owner.controller) == ("NoetlWorkerPool", True)
        assert custom.get_namespaced_custom_object(
            "keda.sh", "v1alpha1", namespace, "scaledobjects", "noetl-worker-shared"
        )
        await js.consumer_info(stream, "noetl_worker_pool_shared")

        # Someone edits the Deployment by hand: the resync timer restores it and says so in an Event.
        apps.patch_namespaced_deployment(
            "noetl-worker-shared",
            namespace,
            {"spec": {"template": {"spec": {"containers": [{"name": "worker", "image": "hand-edited:1"}]}}}},
        )

        def image() -> str:
            deployment = apps.read_namespaced_deployment("noetl-worker-shared", namespace)
            return str(deployment.spec.template.spec.containers[0].image)

        def drift_events() -> list[str]:
            events = kubernetes.client.CoreV1Api(api).list_namespaced_event(namespace).items
            return [event.message for event in events if event.reason == "DriftRepaired"]

        await _eventually(lambda: image() == "ghcr.io/noetl/noetl-workerpool-worker:0.1.0", "the drift repair")
        await _eventually(lambda: bool(drift_events()), "an Event about the repaired drift")
        assert "Deployment/noetl-worker-shared" in drift_events()[0]

        custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shared")

        def gone() -> bool:
            try:
                custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shared")
            except ApiException as error:
                return error.status == 404
            return False

        await _eventually(gone, "the finalizer to release the pool")
        with pytest.raises(nats.js.errors.NotFoundError):
            await js.consumer_info(stream, "noetl_worker_pool_shared")
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)
        api.close()
        await client.close()


def test_noetl_operator_run_peers_probes_and_stops_cleanly(cluster: EnvtestCluster, namespace: str) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "noetl_operator.cli",
        "run",
        "--kubeconfig",
        str(cluster.kubeconfig_path),
        "--liveness",
        f"http://127.0.0.1:{port}/healthz",
        "--metrics-bind",
        f"127.0.0.1:{free_port()}",
        "--peering",
        f"peer-{namespace}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        pool = {**example_pool("minimal.yaml"), "metadata": {"name": "via-cli"}}
        pool["spec"] = {**pool["spec"], "nats": {"url": "nats://127.0.0.1:9"}}
        _create_pool(cluster, namespace, pool)
        deadline = time.monotonic() + 60
        with cluster.api_client() as api:
            custom = kubernetes.client.CustomObjectsApi(api)
            while not custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "via-cli").get("status"):
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the operator never reconciled the pool"
                time.sleep(0.2)
            peering = custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", f"peer-{namespace}")
            assert peering["status"], "this replica announced itself in the peering object"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output


async def test_scaler_ready_mirrors_a_real_keda_on_the_pools_consumer(
    cluster: EnvtestCluster, namespace: str, nats_server: NatsServer
) -> None:
    stream = f"KEDA_{uuid.uuid4().hex[:8]}"
    client = await nats_connect(nats_server.url)
    await client.jetstream().add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    await client.close()
    pool = example_pool("minimal.yaml")
    pool["spec"]["nats"] = {
        "url": nats_server.url,
        "stream": stream,
        "subject": stream.lower(),
        "monitoringEndpoint": f"127.0.0.1:{nats_server.monitor_port}",
    }
    pool["spec"]["consumer"] = {"management": "managed"}
    settings = OperatorSettings(standalone=True, kubeconfig=str(cluster.kubeconfig_path), resync_interval_seconds=1)
    stop = asyncio.Event()
    with start_keda(cluster, namespace=f"keda-{namespace}"):
        task = asyncio.create_task(
            kopf.operator(registry=build_registry(settings), namespaces=[namespace], standalone=True, stop_flag=stop)
        )
        try:
            _create_pool(cluster, namespace, pool)
            with cluster.api_client() as api:
                custom = kubernetes.client.CustomObjectsApi(api)

                def scaler() -> dict[str, Any]:
                    body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "minimal")
                    found = [c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == "ScalerReady"]
                    return found[0] if found else {}

                await _eventually(lambda: scaler().get("status") == "True", "ScalerReady=True from KEDA", timeout=90)
                assert scaler()["reason"] == "ScaledObjectReady"
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)


async def test_a_pool_turns_ready_when_its_deployment_does_not_at_the_next_resync(
    cluster: EnvtestCluster, namespace: str, nats_server: NatsServer
) -> None:
    stream = f"PROMPT_{uuid.uuid4().hex[:8]}"
    client = await nats_connect(nats_server.url)
    await client.jetstream().add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    await client.close()
    pool = _broken({"autoscaling": {"enabled": False}, "replicas": 0})  # Available without any node
    pool["metadata"]["name"] = "prompt"
    pool["spec"]["nats"] = {"url": nats_server.url, "stream": stream, "subject": stream.lower()}
    pool["spec"]["consumer"] = {"management": "managed", "preventDelete": False}
    # A resync far beyond the test's patience: only the Deployment watch can make the pool Ready in time.
    settings = OperatorSettings(standalone=True, kubeconfig=str(cluster.kubeconfig_path), resync_interval_seconds=600)
    stop = asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(registry=build_registry(settings), namespaces=[namespace], standalone=True, stop_flag=stop)
    )
    try:
        created = time.monotonic()
        _create_pool(cluster, namespace, pool)
        with cluster.api_client() as api:
            custom = kubernetes.client.CustomObjectsApi(api)

            def ready() -> bool:
                body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "prompt")
                conditions = (body.get("status") or {}).get("conditions", [])
                return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

            await _eventually(ready, "Ready=True driven by the Deployment becoming Available", timeout=20)
        assert time.monotonic() - created < 20
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)


def test_standalone_run_needs_no_peering_crds() -> None:
    with start_envtest(require_assets(keda=True), controller_manager=False) as bare:
        with bare.api_client() as api:
            crd = yaml.safe_load((ROOT / CRD_PATH).read_text(encoding="utf-8"))
            kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
            kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": "solo"}})
        port = free_port()
        command = [sys.executable, "-m", "noetl_operator.cli", "run", "--standalone", "--kubeconfig"]
        command += [str(bare.kubeconfig_path), "--liveness", f"http://127.0.0.1:{port}/healthz", "--metrics-bind", ""]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            pool = {**example_pool("minimal.yaml"), "metadata": {"name": "solo"}}
            pool["spec"] = {**pool["spec"], "nats": {"url": "nats://127.0.0.1:9"}}
            deadline = time.monotonic() + 60
            with bare.api_client() as api:
                custom = kubernetes.client.CustomObjectsApi(api)
                while True:
                    try:
                        custom.create_namespaced_custom_object(GROUP, VERSION, "solo", PLURAL, pool)
                        break
                    except ApiException:  # the CRD may not be served for a moment
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)
                while not custom.get_namespaced_custom_object(GROUP, VERSION, "solo", PLURAL, "solo").get("status"):
                    assert process.poll() is None, process.communicate()[0]
                    assert time.monotonic() < deadline, "a standalone operator never reconciled"
                    time.sleep(0.2)
                # Reconciled, not merely noticed: the children were applied.
                deployment = kubernetes.client.AppsV1Api(api).read_namespaced_deployment("noetl-worker-solo", "solo")
                assert deployment.metadata.owner_references[0].kind == "NoetlWorkerPool"
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output


def _bound_token(cluster: EnvtestCluster, anchor: str) -> str:
    """A token of the operator's ServiceAccount bound to Secret ``noetl-system/<anchor>``.

    Deleting the Secret revokes the token, as deleting a Pod revokes the projected token of its containers.
    """
    with cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        secret = core.create_namespaced_secret("noetl-system", {"metadata": {"name": anchor}})
        request = kubernetes.client.AuthenticationV1TokenRequest(
            spec=kubernetes.client.V1TokenRequestSpec(
                audiences=[cluster.service_account_issuer],
                expiration_seconds=3600,
                bound_object_ref=kubernetes.client.V1BoundObjectReference(
                    api_version="v1", kind="Secret", name=anchor, uid=secret.metadata.uid
                ),
            )
        )
        token: str = core.create_namespaced_service_account_token(
            "noetl-operator", "noetl-system", request
        ).status.token
    return token


def _revoke(cluster: EnvtestCluster, anchor: str, token: str) -> None:
    """Delete the token's bound Secret and wait until the API server refuses the token (its auth cache expires)."""
    with cluster.api_client() as api:
        kubernetes.client.CoreV1Api(api).delete_namespaced_secret(anchor, "noetl-system")
    deadline = time.monotonic() + 60
    while True:
        request = urllib.request.Request(f"{cluster.api_url}/apis", headers={"Authorization": f"Bearer {token}"})
        context = ssl.create_default_context(cafile=str(cluster.ca_cert_path))
        try:
            with urllib.request.urlopen(request, context=context, timeout=5):
                pass
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return
            raise
        assert time.monotonic() < deadline, "the API server still accepts the revoked token"
        time.sleep(0.5)


def _rotate(token_file: Path, token: str) -> None:
    """Replace the token file atomically, as the kubelet does for a projected token."""
    fresh = token_file.with_name(f".{token_file.name}.new")
    fresh.write_text(token, encoding="utf-8")
    os.replace(fresh, token_file)


def _token_file_kubeconfig(cluster: EnvtestCluster, token_file: Path) -> Path:
    """A kubeconfig authenticating with ``tokenFile`` (what client-go and the operator re-read as it rotates)."""
    path = token_file.with_name("kubeconfig")
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {
                        "name": "e",
                        "cluster": {"server": cluster.api_url, "certificate-authority": str(cluster.ca_cert_path)},
                    }
                ],
                "users": [{"name": "operator", "user": {"tokenFile": str(token_file)}}],
                "contexts": [{"name": "e", "context": {"cluster": "e", "user": "operator"}}],
                "current-context": "e",
            }
        ),
        encoding="utf-8",
    )
    return path


async def test_the_operator_keeps_writing_after_its_token_file_rotates_and_the_old_token_is_revoked(
    cluster: EnvtestCluster, namespace: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    _operator_kubeconfig(cluster)  # the operator's ServiceAccount, bound to deploy/base/rbac.yaml
    token_file = tmp_path / "token"
    first = _bound_token(cluster, f"anchor-a-{namespace}")
    _rotate(token_file, first)
    settings = OperatorSettings(
        standalone=True, kubeconfig=str(_token_file_kubeconfig(cluster, token_file)), resync_interval_seconds=1
    )
    pool = example_pool("minimal.yaml")
    pool["spec"]["nats"] = {"url": nats_server.url}
    stop = asyncio.Event()
    # Cluster-wide, as deployed: the RBAC does not let the operator list namespaces.
    task = asyncio.create_task(
        kopf.operator(registry=build_registry(settings), clusterwide=True, standalone=True, stop_flag=stop)
    )
    api = cluster.api_client()
    custom = kubernetes.client.CustomObjectsApi(api)
    apps = kubernetes.client.AppsV1Api(api)

    def observed() -> int | None:
        body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "minimal")
        return (body.get("status") or {}).get("observedGeneration")

    def image() -> str:
        return str(
            apps.read_namespaced_deployment("noetl-worker-minimal", namespace).spec.template.spec.containers[0].image
        )

    try:
        _create_pool(cluster, namespace, pool)
        await _eventually(lambda: observed() == 1, "the first reconciliation (status written)")

        # The kubelet rotates the projected token; the old one then stops working (here: revoked at once).
        _rotate(token_file, _bound_token(cluster, f"anchor-b-{namespace}"))
        _revoke(cluster, f"anchor-a-{namespace}", first)

        # A spec change needs the operator's own writes: apply the Deployment and patch the status.
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "minimal", {"spec": {"image": {"tag": "0.2.0"}}}
        )
        await _eventually(lambda: observed() == 2, "the status of generation 2, written with the new token")
        assert image().endswith(":0.2.0")
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)
        api.close()


async def test_a_401_rereads_a_token_file_that_changed_without_looking_changed(
    cluster: EnvtestCluster, namespace: str, tmp_path: Path
) -> None:
    _operator_kubeconfig(cluster)
    token_file = tmp_path / "token"
    first, second = _bound_token(cluster, f"anchor-c-{namespace}"), _bound_token(cluster, f"anchor-d-{namespace}")
    width = max(len(first), len(second))
    token_file.write_text(first.ljust(width), encoding="utf-8")
    connection = load_connection(str(_token_file_kubeconfig(cluster, token_file)))
    async with KubeClient(connection) as kube:
        assert await kube.get_secret(namespace, "absent") is None  # authenticated (a 404, not a 401)
        # Rewritten in place within the file system's timestamp granularity: same inode, size and mtime.
        before = token_file.stat()
        with token_file.open("r+", encoding="utf-8") as handle:
            handle.write(second.ljust(width))
        os.utime(token_file, ns=(before.st_atime_ns, before.st_mtime_ns))
        _revoke(cluster, f"anchor-c-{namespace}", first)
        # The request is refused with the cached token, the file is re-read, and the request is sent again.
        assert await kube.get_secret(namespace, "absent") is None
        assert connection.bearer_token() == second
