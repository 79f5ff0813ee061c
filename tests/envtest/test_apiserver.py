"""The envtest control plane itself: authentication, RBAC and the controllers the operator relies on.

These tests pin down the behaviour the operator's envtest tests take for
granted, so that a failure there points at the operator and not at the fixture:
the API server authenticates and authorizes for real, and kube-controller-manager
finalizes namespaces, turns Deployments into ReplicaSets and Pods, and garbage
collects objects whose owner is gone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import kubernetes.client
import pytest
from kubernetes.client import (
    ApiException,
    RbacV1Subject,
    V1ConfigMap,
    V1Container,
    V1Deployment,
    V1DeploymentSpec,
    V1LabelSelector,
    V1Namespace,
    V1ObjectMeta,
    V1OwnerReference,
    V1PodSpec,
    V1PodTemplateSpec,
    V1PolicyRule,
    V1Role,
    V1RoleBinding,
    V1RoleRef,
    V1Secret,
)

from tests.support.envtest import EnvtestCluster, KedaOperator, client_for_kubeconfig

T = TypeVar("T")

pytestmark = pytest.mark.envtest

# Controllers react within a second or two on an idle machine; the margin is
# for a loaded 2-core CI runner. Polling returns as soon as the condition holds.
CONTROLLER_TIMEOUT = 60.0


def eventually(what: str, probe: Callable[[], T | None], timeout: float = CONTROLLER_TIMEOUT) -> T:
    """Poll ``probe`` until it returns something other than None/False; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def gone(read: Callable[[], object]) -> bool:
    """True once ``read()`` answers 404."""
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def meta(obj: object) -> V1ObjectMeta:
    """The metadata of an object the API server returned (always set there)."""
    metadata = getattr(obj, "metadata", None)
    assert isinstance(metadata, V1ObjectMeta)
    return metadata


def owned_by(owner: object, kind: str, *, block: bool = False) -> V1OwnerReference:
    """An ownerReference pointing at ``owner`` (a core/v1 object)."""
    return V1OwnerReference(
        api_version="v1", kind=kind, name=meta(owner).name, uid=meta(owner).uid, block_owner_deletion=block
    )


def test_api_server_answers_with_its_pinned_version(kube_api: kubernetes.client.ApiClient) -> None:
    version = kubernetes.client.VersionApi(kube_api).get_code()
    assert version.git_version.startswith("v1."), version.git_version
    assert version.major == "1"
    namespaces = {meta(ns).name for ns in kubernetes.client.CoreV1Api(kube_api).list_namespace().items}
    assert {"default", "kube-system", "kube-public"} <= namespaces


def test_startup_is_fast_on_a_warm_cache(envtest: EnvtestCluster) -> None:
    # The issue's budget: the whole control plane ready in under 30 s.
    assert envtest.startup_seconds < 30, f"start-up took {envtest.startup_seconds:.1f} s"


def test_rbac_denies_an_unprivileged_service_account_until_a_role_is_bound(
    envtest: EnvtestCluster, kube_api: kubernetes.client.ApiClient, namespace: str
) -> None:
    identity = f"system:serviceaccount:{namespace}:nobody"
    kubeconfig = envtest.service_account_kubeconfig(namespace, "nobody")
    with client_for_kubeconfig(kubeconfig) as sa_api:
        # Authenticated as the ServiceAccount (not anonymous) ...
        review = kubernetes.client.AuthenticationV1Api(sa_api).create_self_subject_review(
            kubernetes.client.V1SelfSubjectReview()
        )
        assert review.status is not None
        assert review.status.user_info is not None
        assert review.status.user_info.username == identity

        # ... and denied by RBAC: nothing is bound to it.
        sa_core = kubernetes.client.CoreV1Api(sa_api)
        with pytest.raises(ApiException) as denied:
            sa_core.list_namespaced_config_map(namespace)
        assert denied.value.status == 403
        assert identity in str(denied.value.body)

        # Binding a Role grants exactly that: listing works, creating still does not.
        rbac = kubernetes.client.RbacAuthorizationV1Api(kube_api)
        rbac.create_namespaced_role(
            namespace,
            V1Role(
                metadata=V1ObjectMeta(name="read-configmaps"),
                rules=[V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            V1RoleBinding(
                metadata=V1ObjectMeta(name="nobody-reads-configmaps"),
                role_ref=V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="read-configmaps"),
                subjects=[RbacV1Subject(kind="ServiceAccount", name="nobody", namespace=namespace)],
            ),
        )

        def can_list() -> bool:
            try:
                sa_core.list_namespaced_config_map(namespace)
            except ApiException as exc:
                if exc.status == 403:
                    return False
                raise
            return True

        # The RBAC authorizer reads bindings from an informer: allow a moment.
        eventually("the RoleBinding to take effect", can_list)
        with pytest.raises(ApiException) as still_denied:
            sa_core.create_namespaced_config_map(namespace, V1ConfigMap(metadata=V1ObjectMeta(name="nope")))
        assert still_denied.value.status == 403


def test_a_client_certificate_user_is_authenticated_with_its_groups(envtest: EnvtestCluster) -> None:
    with client_for_kubeconfig(envtest.user_kubeconfig("alice", ["devs"])) as api:
        review = kubernetes.client.AuthenticationV1Api(api).create_self_subject_review(
            kubernetes.client.V1SelfSubjectReview()
        )
        assert review.status is not None
        assert review.status.user_info is not None
        assert review.status.user_info.username == "alice"
        assert set(review.status.user_info.groups or []) == {"devs", "system:authenticated"}
        with pytest.raises(ApiException) as denied:
            kubernetes.client.CoreV1Api(api).list_namespace()
        assert denied.value.status == 403


def test_an_invalid_token_is_rejected_as_unauthenticated(envtest: EnvtestCluster) -> None:
    config = kubernetes.client.Configuration()
    config.host = envtest.api_url
    config.ssl_ca_cert = str(envtest.ca_cert_path)
    config.api_key = {"authorization": "Bearer not-a-real-token"}
    with kubernetes.client.ApiClient(configuration=config) as api, pytest.raises(ApiException) as rejected:
        kubernetes.client.CoreV1Api(api).list_namespace()
    assert rejected.value.status == 401


@pytest.mark.timeout(300)
def test_namespace_deletion_is_completed_by_the_namespace_controller(
    kube_api: kubernetes.client.ApiClient,
) -> None:
    core = kubernetes.client.CoreV1Api(kube_api)
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    created = core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    # The `kubernetes` finalizer is what only the namespace controller removes.
    assert created.spec is not None
    assert created.spec.finalizers == ["kubernetes"]
    # A finalizer on the content holds the namespace in Terminating until we
    # release it, which makes the intermediate state observable without races.
    core.create_namespaced_config_map(
        name, V1ConfigMap(metadata=V1ObjectMeta(name="content", finalizers=["test.noetl.io/hold"]))
    )

    core.delete_namespace(name)

    # The API server only marks the namespace Terminating; the controller
    # deletes its content (here: sets the ConfigMap's deletionTimestamp) ...
    def content_deleting() -> bool:
        return meta(core.read_namespaced_config_map("content", name)).deletion_timestamp is not None

    eventually("the namespace controller to delete the namespace's content", content_deleting)
    namespace_status = core.read_namespace(name).status
    assert namespace_status is not None
    assert namespace_status.phase == "Terminating"

    # ... and removes the namespace once the content is gone.
    core.patch_namespaced_config_map("content", name, {"metadata": {"finalizers": None}})
    eventually(f"namespace {name} to disappear", lambda: gone(lambda: core.read_namespace(name)))


@pytest.mark.timeout(300)
def test_a_deployment_gets_a_replicaset_and_pods_from_the_controller_manager(
    kube_api: kubernetes.client.ApiClient, namespace: str
) -> None:
    apps = kubernetes.client.AppsV1Api(kube_api)
    core = kubernetes.client.CoreV1Api(kube_api)
    labels = {"app": "web"}
    deployment = apps.create_namespaced_deployment(
        namespace,
        V1Deployment(
            metadata=V1ObjectMeta(name="web"),
            spec=V1DeploymentSpec(
                replicas=2,
                selector=V1LabelSelector(match_labels=labels),
                template=V1PodTemplateSpec(
                    metadata=V1ObjectMeta(labels=labels),
                    spec=V1PodSpec(containers=[V1Container(name="web", image="registry.invalid/web:1")]),
                ),
            ),
        ),
    )

    replica_set = eventually(
        "a ReplicaSet owned by the Deployment",
        lambda: next(iter(apps.list_namespaced_replica_set(namespace).items), None),
    )
    owners = meta(replica_set).owner_references or []
    assert [(o.kind, o.name, o.uid, o.controller) for o in owners] == [
        ("Deployment", "web", meta(deployment).uid, True)
    ]

    def two_pods() -> list[kubernetes.client.V1Pod] | None:
        pods = core.list_namespaced_pod(namespace).items
        return pods if len(pods) == 2 else None

    # No nodes, so the Pods stay Pending - but they exist, owned by the ReplicaSet.
    pods = eventually("2 Pods from the ReplicaSet", two_pods)
    assert {ref.uid for p in pods for ref in meta(p).owner_references or []} == {meta(replica_set).uid}
    assert {p.status.phase if p.status else None for p in pods} == {"Pending"}


@pytest.mark.timeout(300)
def test_garbage_collection_deletes_an_owned_object_when_its_owner_is_deleted(
    kube_api: kubernetes.client.ApiClient, namespace: str
) -> None:
    core = kubernetes.client.CoreV1Api(kube_api)
    owner = core.create_namespaced_config_map(namespace, V1ConfigMap(metadata=V1ObjectMeta(name="owner")))
    core.create_namespaced_secret(
        namespace,
        V1Secret(
            metadata=V1ObjectMeta(name="owned", owner_references=[owned_by(owner, "ConfigMap")]),
            string_data={"k": "v"},
        ),
    )
    core.create_namespaced_secret(namespace, V1Secret(metadata=V1ObjectMeta(name="bystander"), string_data={"k": "v"}))

    core.delete_namespaced_config_map("owner", namespace)  # default: background propagation

    eventually(
        "the owned Secret to be garbage collected",
        lambda: gone(lambda: core.read_namespaced_secret("owned", namespace)),
    )
    assert meta(core.read_namespaced_secret("bystander", namespace)).name == "bystander"


@pytest.mark.timeout(300)
def test_foreground_deletion_waits_for_dependents(kube_api: kubernetes.client.ApiClient, namespace: str) -> None:
    # Foreground deletion is what `kubectl delete --cascade=foreground` and a
    # finalizer-driven teardown rely on: the owner stays (with the
    # foregroundDeletion finalizer) until the garbage collector removed its dependents.
    core = kubernetes.client.CoreV1Api(kube_api)
    owner = core.create_namespaced_config_map(namespace, V1ConfigMap(metadata=V1ObjectMeta(name="owner")))
    core.create_namespaced_config_map(
        namespace,
        V1ConfigMap(metadata=V1ObjectMeta(name="child", owner_references=[owned_by(owner, "ConfigMap", block=True)])),
    )

    core.delete_namespaced_config_map(
        "owner", namespace, body=kubernetes.client.V1DeleteOptions(propagation_policy="Foreground")
    )
    eventually("the owner to be gone", lambda: gone(lambda: core.read_namespaced_config_map("owner", namespace)))
    assert gone(lambda: core.read_namespaced_config_map("child", namespace))


def _load_pod(name: str) -> kubernetes.client.V1Pod:
    """A bare Pod labelled as load; it stays Pending forever here (no nodes)."""
    return kubernetes.client.V1Pod(
        metadata=V1ObjectMeta(name=name, labels={"load": "yes"}),
        spec=V1PodSpec(containers=[V1Container(name="c", image="registry.invalid/c:1")]),
    )


@pytest.mark.timeout(300)
def test_keda_scales_a_deployment_from_zero_to_one_to_n_and_back(
    keda: KedaOperator, kube_api: kubernetes.client.ApiClient, namespace: str
) -> None:
    # A self-check of the KEDA fixture with a scaler that needs nothing outside
    # the cluster: `kubernetes-workload` counts Pods matching a selector, so
    # bare Pending Pods are a switchable "load". 0 <-> 1 is KEDA's operator
    # (activation); 1 -> N is the HPA controller reading KEDA's external metric
    # through the aggregation layer and KEDA's metrics server.
    apps = kubernetes.client.AppsV1Api(kube_api)
    core = kubernetes.client.CoreV1Api(kube_api)
    labels = {"app": "scaled"}
    apps.create_namespaced_deployment(
        namespace,
        V1Deployment(
            metadata=V1ObjectMeta(name="scaled"),
            spec=V1DeploymentSpec(
                replicas=0,
                selector=V1LabelSelector(match_labels=labels),
                template=V1PodTemplateSpec(
                    metadata=V1ObjectMeta(labels=labels),
                    spec=V1PodSpec(containers=[V1Container(name="c", image="registry.invalid/c:1")]),
                ),
            ),
        ),
    )
    scaled_object = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "scaled"},
        "spec": {
            "scaleTargetRef": {"name": "scaled"},
            "minReplicaCount": 0,
            "maxReplicaCount": 5,
            "pollingInterval": 1,
            "cooldownPeriod": 2,
            "triggers": [{"type": "kubernetes-workload", "metadata": {"podSelector": "load=yes", "value": "1"}}],
        },
    }
    custom = kubernetes.client.CustomObjectsApi(kube_api)
    custom.create_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects", scaled_object)

    def replicas() -> int:
        spec = apps.read_namespaced_deployment("scaled", namespace).spec
        assert spec is not None
        return spec.replicas or 0

    def ready_condition() -> str | None:
        so = custom.get_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects", "scaled")
        assert isinstance(so, dict)
        conditions = (so.get("status") or {}).get("conditions") or []
        ready = [c for c in conditions if c.get("type") == "Ready" and c.get("status") == "True"]
        return "Ready" if ready else None

    eventually(f"the ScaledObject to become Ready\n{keda.log_tail()}", ready_condition)
    autoscaling = kubernetes.client.AutoscalingV2Api(kube_api)
    hpa = eventually(
        "KEDA's HPA",
        lambda: next(iter(autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace).items), None),
    )
    assert hpa.spec is not None
    assert hpa.spec.scale_target_ref.name == "scaled"
    assert replicas() == 0

    core.create_namespaced_pod(namespace, _load_pod("load-0"))
    eventually("KEDA to activate the Deployment (0 -> 1)", lambda: replicas() >= 1)

    for i in (1, 2):
        core.create_namespaced_pod(namespace, _load_pod(f"load-{i}"))
    eventually(f"the HPA to scale to 3 via KEDA's metrics server (1 -> N)\n{keda.log_tail()}", lambda: replicas() == 3)

    for i in range(3):
        core.delete_namespaced_pod(f"load-{i}", namespace, grace_period_seconds=0)
    eventually("KEDA to scale the Deployment back to 0 after the cooldown", lambda: replicas() == 0)
