"""Real Argo CD on loopback: the binaries from ``scripts/argocd-assets``, redis, and a git server.

Argo CD is built from the Go module proxy (there are no images or release downloads on this project's
machines); one ``argocd`` binary dispatches on its name, and the assets folder holds symlinks named
``argocd-application-controller`` and ``argocd-repo-server``. :func:`start_argocd` runs, against an
API server (the envtest one in the ``argocd`` tier):

* ``redis-server`` on a random loopback port, no persistence (Argo CD's cache);
* ``argocd-repo-server`` (plaintext gRPC on loopback; ``kustomize`` from the assets folder on its PATH);
* ``argocd-application-controller`` with the admin kubeconfig, which (with ``ARGOCD_FAKE_IN_CLUSTER``)
  makes that API server Argo CD's in-cluster destination ``https://kubernetes.default.svc``;

once :func:`install_argocd` has created Argo CD's CRDs (from the module source, matched to the binary),
the ``argocd`` namespace, the ``argocd-secret`` and the ``default`` AppProject a standard install has
(argocd-server creates that project on start; it is the one piece of argocd-server the controllers
need), and the caller has installed ``argocd-cm``.
:func:`serving_git` serves a folder of bare repositories with ``git daemon`` on loopback, as a GitOps
repository would be served to repo-server. :func:`resource_health` runs the offline health assessment
(``argocd admin settings resource-overrides health``), the same code path as the controller's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client
import yaml
from kubernetes.client.exceptions import ApiException

from tests.support.envtest import EnvtestCluster
from tests.support.nats import free_port
from tests.support.processes import Process, spawn

__all__ = [
    "ARGOCD_NAMESPACE",
    "ArgoCD",
    "ArgoCDError",
    "GitServer",
    "find_argocd_assets",
    "install_argocd",
    "resource_health",
    "serving_git",
    "start_argocd",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS_SCRIPT = REPO_ROOT / "scripts" / "argocd-assets"
ARGOCD_NAMESPACE = "argocd"
ARGO_GROUP, ARGO_VERSION = "argoproj.io", "v1alpha1"


class ArgoCDError(RuntimeError):
    """An Argo CD component did not come up or an assessment failed; the message carries the log tail."""


def find_argocd_assets() -> Path | None:
    """The assets folder when it is built and current (``scripts/argocd-assets --check``), else None."""
    done = subprocess.run([ASSETS_SCRIPT, "--check"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or shutil.which("redis-server") is None:
        return None
    return Path(done.stdout.strip().splitlines()[-1])


def resource_health(assets: Path, argocd_cm: Path, obj: Mapping[str, Any], work: Path) -> tuple[str, str]:
    """Argo CD's verdict on ``obj`` with the health customizations of the ConfigMap file ``argocd_cm``.

    Returns ``(status, message)`` as ``argocd admin settings resource-overrides health`` prints them; that
    command calls the same ``GetResourceHealth`` as the application-controller, built-in checks (such as
    deletion) included.
    """
    resource = work / "resource.yaml"
    resource.write_text(yaml.safe_dump(dict(obj)))
    done = subprocess.run(
        [
            assets / "argocd",
            "admin",
            "settings",
            "resource-overrides",
            "health",
            resource,
            "--argocd-cm-path",
            argocd_cm,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "HOME": str(work)},
    )
    fields = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    if done.returncode != 0 or "STATUS" not in fields:
        raise ArgoCDError(f"argocd admin ... health exited {done.returncode}: {done.stdout}{done.stderr}")
    return fields["STATUS"], fields.get("MESSAGE", "")


# --------------------------------------------------------------------------- git


@dataclass(frozen=True)
class GitServer:
    """``git daemon`` serving the bare repositories under ``base`` at ``git://127.0.0.1:<port>/<name>``."""

    base: Path
    port: int
    process: Process

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "noetl-tests",
            "GIT_AUTHOR_EMAIL": "tests@noetl.invalid",
            "GIT_COMMITTER_NAME": "noetl-tests",
            "GIT_COMMITTER_EMAIL": "tests@noetl.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(cwd),
        },
    )
    if done.returncode != 0:
        raise ArgoCDError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.strip()}")
    return done.stdout.strip()


class GitOpsRepo:
    """A working copy whose commits are pushed to a bare repository that the git server serves."""

    def __init__(self, bare: Path, work: Path) -> None:
        self.bare = bare
        self.work = work
        _git(bare.parent, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        _git(work.parent, "init", "--quiet", "--initial-branch=main", str(work))
        _git(work, "remote", "add", "origin", str(bare))

    def commit(self, message: str) -> str:
        """Commit everything in the working copy and push it; return the new revision."""
        _git(self.work, "add", "--all")
        _git(self.work, "commit", "--quiet", "--allow-empty", "-m", message)
        _git(self.work, "push", "--quiet", "origin", "main")
        return _git(self.work, "rev-parse", "HEAD")


@contextlib.contextmanager
def serving_git(folder: Path, logs: Path) -> Iterator[GitServer]:
    """Serve ``folder``'s bare repositories read-only with ``git daemon`` on a random loopback port."""
    port = free_port()
    process = spawn(
        "git-daemon",
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={folder}",
            str(folder),
        ],
        logs,
    )
    try:
        _wait_for_port("git daemon", port, [process])
        yield GitServer(base=folder, port=port, process=process)
    finally:
        process.stop()


# --------------------------------------------------------------------------- Argo CD


def _wait_for_port(what: str, port: int, processes: Sequence[Process], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for proc in processes:
            if not proc.alive():
                raise ArgoCDError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in processes)
            raise ArgoCDError(f"{what} not listening on 127.0.0.1:{port} after {timeout:.0f}s\n{tails}")
        time.sleep(0.2)


@dataclass
class ArgoCD:
    """Running Argo CD controllers and the API objects to drive them."""

    custom: kubernetes.client.CustomObjectsApi
    processes: list[Process]
    logs: Path

    def alive(self) -> bool:
        return all(proc.alive() for proc in self.processes)

    def describe(self, lines: int = 15) -> str:
        return "\n".join(
            f"--- {p.name} ({'running' if p.alive() else 'EXITED'})\n{p.log_tail(lines)}" for p in self.processes
        )

    def application(self, name: str) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(
            ARGO_GROUP, ARGO_VERSION, ARGOCD_NAMESPACE, "applications", name
        )
        assert isinstance(found, dict)
        return found

    def apply_application(self, manifest: Mapping[str, Any]) -> None:
        body = {**manifest, "metadata": {**manifest["metadata"], "namespace": ARGOCD_NAMESPACE}}
        self.custom.create_namespaced_custom_object(ARGO_GROUP, ARGO_VERSION, ARGOCD_NAMESPACE, "applications", body)

    def patch_application(self, name: str, patch: Mapping[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            ARGO_GROUP, ARGO_VERSION, ARGOCD_NAMESPACE, "applications", name, dict(patch)
        )

    def refresh(self, name: str) -> None:
        """Ask for a refresh now, as a git webhook or ``argocd app get --refresh`` does."""
        self.patch_application(name, {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}})


def _create(create: Any, *args: Any) -> None:
    try:
        create(*args)
    except ApiException as error:
        if error.status != 409:
            raise


def install_argocd(api: kubernetes.client.ApiClient, assets: Path) -> None:
    """Argo CD's CRDs, namespace, secret and default project, as a standard install leaves them.

    ``argocd-cm`` is not among them: the controller refuses to start without it, and what goes in it
    (our health check) is the caller's to install, before :func:`start_argocd`.
    """
    ext = kubernetes.client.ApiextensionsV1Api(api)
    names = []
    for path in sorted((assets / "crds").glob("*-crd.yaml")):
        for body in yaml.safe_load_all(path.read_text()):
            _create(ext.create_custom_resource_definition, body)
            names.append(body["metadata"]["name"])
    deadline = time.monotonic() + 30
    for name in names:
        while not any(
            c.type == "Established" and c.status == "True"
            for c in (ext.read_custom_resource_definition(name).status.conditions or [])
        ):
            if time.monotonic() > deadline:
                raise ArgoCDError(f"Argo CD CRD {name} not Established after 30 s")
            time.sleep(0.1)
    core = kubernetes.client.CoreV1Api(api)
    _create(core.create_namespace, {"metadata": {"name": ARGOCD_NAMESPACE}})
    part_of = {"app.kubernetes.io/part-of": "argocd"}
    _create(
        core.create_namespaced_secret,
        ARGOCD_NAMESPACE,
        {"metadata": {"name": "argocd-secret", "labels": {"app.kubernetes.io/name": "argocd-secret", **part_of}}},
    )
    # What argocd-server's initializeDefaultProject creates on its first start.
    _create(
        kubernetes.client.CustomObjectsApi(api).create_namespaced_custom_object,
        ARGO_GROUP,
        ARGO_VERSION,
        ARGOCD_NAMESPACE,
        "appprojects",
        {
            "apiVersion": f"{ARGO_GROUP}/{ARGO_VERSION}",
            "kind": "AppProject",
            "metadata": {"name": "default"},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        },
    )


@contextlib.contextmanager
def start_argocd(cluster: EnvtestCluster, assets: Path, logs: Path, *, resync_seconds: int = 10) -> Iterator[ArgoCD]:
    """Run redis, repo-server and application-controller against ``cluster`` (see :func:`install_argocd`).

    ``resync_seconds`` is the controller's reconciliation timeout (how often it compares with git without
    a refresh request; 180 s in a default install); self-heal retries after 2 s instead of 5 s.
    """
    work = Path(tempfile.mkdtemp(prefix="argocd-", dir=logs))
    env = {
        "PATH": f"{assets}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(work),
        "TMPDIR": str(work),
        # No gpg on the machine and no signed commits to verify.
        "ARGOCD_GPG_ENABLED": "false",
        # repo-server's git credential socket defaults to a fixed /tmp path; two test runs must not share it.
        "ARGOCD_ASK_PASS_SOCK": str(work / "askpass.sock"),
    }
    processes: list[Process] = []
    try:
        redis_port = free_port()
        redis = spawn(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
            logs,
            env,
        )
        processes.append(redis)
        _wait_for_port("redis", redis_port, processes)
        redis_addr = f"127.0.0.1:{redis_port}"

        repo_port = free_port()
        processes.append(
            spawn(
                "argocd-repo-server",
                [
                    assets / "argocd-repo-server",
                    "--address=127.0.0.1",
                    f"--port={repo_port}",
                    f"--metrics-port={free_port()}",
                    "--metrics-address=127.0.0.1",
                    "--disable-tls",
                    f"--redis={redis_addr}",
                    "--loglevel=info",
                ],
                logs,
                env,
            )
        )
        _wait_for_port("argocd-repo-server", repo_port, processes)

        processes.append(
            spawn(
                "argocd-application-controller",
                [
                    assets / "argocd-application-controller",
                    f"--kubeconfig={cluster.kubeconfig_path}",
                    f"--namespace={ARGOCD_NAMESPACE}",
                    f"--repo-server=127.0.0.1:{repo_port}",
                    "--repo-server-plaintext",
                    f"--redis={redis_addr}",
                    f"--metrics-port={free_port()}",
                    f"--app-resync={resync_seconds}",
                    "--self-heal-timeout-seconds=2",
                    "--status-processors=2",
                    "--operation-processors=2",
                    "--loglevel=info",
                ],
                logs,
                # The destination https://kubernetes.default.svc is normally reached with the Pod's
                # in-cluster credentials; ARGOCD_FAKE_IN_CLUSTER (what `argocd admin` uses for the same
                # purpose) makes it the KUBECONFIG's API server instead.
                {**env, "ARGOCD_FAKE_IN_CLUSTER": "true", "KUBECONFIG": str(cluster.kubeconfig_path)},
            )
        )
        with cluster.api_client() as api:
            argocd = ArgoCD(custom=kubernetes.client.CustomObjectsApi(api), processes=processes, logs=logs)
            time.sleep(1)  # an immediate exit (bad flag, no API server) shows up here, not as a timeout later
            if not argocd.alive():
                raise ArgoCDError(f"Argo CD did not start:\n{argocd.describe(40)}")
            yield argocd
    finally:
        for proc in reversed(processes):
            proc.stop()
        shutil.rmtree(work, ignore_errors=True)
