"""Run this project's images as real containers (the Docker CLI against the machine's daemon).

One place knows how a worker container is hardened the way deploy/ runs it in a Pod: read-only root
filesystem, a tmpfs ``/tmp``, UID/GID 65532, every capability dropped, no privilege escalation. The
containers share the host's network namespace, so they reach the tests' nats-server, stand-in,
PostgreSQL and HTTP peers on loopback, and the tests reach their ports the same way.

    docker_unavailable()        # None, or one line saying why the image tier cannot run here
    with running_container("noetl-standin:dev", [...], name="x") as container: ...
    worker = start_container_worker(log_dir, nats_url, server_url, image="noetl-worker:dev", **env)

Every container is labelled ``io.noetl.test=<this process>`` and removed by :func:`remove_labelled` (the
image tier's session teardown), so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.nats import free_port
from tests.support.podrunner import ContainerStart, Launch, Launcher
from tests.worker.workerproc import WorkerProcess

__all__ = [
    "HARDENED",
    "IMAGES",
    "REPO_ROOT",
    "Container",
    "ContainerWorker",
    "container_launcher",
    "docker",
    "docker_unavailable",
    "image_present",
    "portable_kubeconfig",
    "remove_labelled",
    "run_argv",
    "running_container",
    "start_container_worker",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES = {"worker": "noetl-worker:dev", "standin": "noetl-standin:dev", "operator": "noetl-operator:dev"}
LABEL = "io.noetl.test"
SESSION = f"pid-{os.getpid()}"
# How deploy/base runs the worker (securityContext): what the image must work under.
HARDENED = (
    "--read-only",
    "--tmpfs=/tmp:rw,nosuid,nodev,size=256m",
    "--user=65532:65532",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)


def docker(*args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One docker CLI call; a failure raises with docker's own message."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} ... failed ({result.returncode}): {result.stderr.strip()}")
    return result


def docker_unavailable() -> str | None:
    """None when a daemon answers, else one line saying what is missing (the tier's skip reason)."""
    if shutil.which("docker") is None:
        return "no docker CLI on this machine (scripts/docker-up installs docker.io)"
    answered = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, check=False
    )
    if answered.returncode != 0:
        return f"no Docker daemon answers (run scripts/docker-up): {answered.stderr.strip().splitlines()[-1:]}"
    return None


def image_present(image: str) -> bool:
    return docker("image", "inspect", image, check=False).returncode == 0


def remove_labelled(session: str = SESSION) -> None:
    """Force-remove every container this test process started (also ones a killed test left running)."""
    listed = docker("ps", "-aq", "--filter", f"label={LABEL}={session}", check=False).stdout.split()
    if listed:
        docker("rm", "-f", *listed, check=False)


def run_argv(
    image: str,
    command: Sequence[str] = (),
    *,
    name: str,
    env: Mapping[str, str] | None = None,
    hardened: bool = True,
    detach: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """The ``docker run`` command line for one container on the host network (attached unless ``detach``)."""
    argv = ["docker", "run", "--rm", f"--name={name}", "--network=host", f"--label={LABEL}={SESSION}"]
    if detach:
        argv.append("--detach")
    if hardened:
        argv += HARDENED
    for key, value in (env or {}).items():
        argv.append(f"--env={key}={value}")
    return [*argv, *extra, image, *command]


@dataclass
class Container:
    """A container started by name; its state and the PID of its first process, read from the daemon."""

    name: str

    def state(self) -> dict[str, str]:
        found = docker(
            "inspect", "--format", "{{.State.Status}} {{.State.Pid}} {{.State.ExitCode}}", self.name, check=False
        )
        if found.returncode != 0:
            return {"status": "gone", "pid": "0", "exit_code": ""}
        status, pid, code = found.stdout.split()
        return {"status": status, "pid": pid, "exit_code": code}

    def pid(self) -> int:
        """The host PID of the container's PID 1 (0 when it is not running)."""
        return int(self.state()["pid"])

    def signal(self, sig: signal.Signals) -> None:
        docker("kill", f"--signal={sig.name}", self.name, check=False)

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def proc_status(self) -> dict[str, str]:
        """``/proc/<pid>/status`` of the container's first process, as the host kernel reports it."""
        fields: dict[str, str] = {}
        for line in Path(f"/proc/{self.pid()}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return fields

    def rss_mib(self) -> float:
        """Resident memory of the container's first process (VmRSS), MiB."""
        return int(self.proc_status()["VmRSS"].split()[0]) / 1024


@contextlib.contextmanager
def running_container(
    image: str, command: Sequence[str] = (), *, env: Mapping[str, str] | None = None, hardened: bool = True
) -> Iterator[Container]:
    """A detached container for the block; removed (whatever its state) afterwards."""
    container = Container(f"noetl-test-{uuid.uuid4().hex[:10]}")
    docker(*run_argv(image, command, name=container.name, env=env, hardened=hardened, detach=True)[1:])
    try:
        yield container
    finally:
        docker("rm", "-f", container.name, check=False)


class ContainerWorker(WorkerProcess):
    """A worker running in a container of the worker image, with :class:`WorkerProcess`'s read-outs.

    ``process`` is the attached ``docker run``: it ends when the container does, with its exit code, and
    its output is the container's. Signals go to the container through the daemon (``docker kill``).
    """

    @property
    def container(self) -> Container:
        return Container(self.env["CONTAINER_NAME"])

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.container.signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.container.signal(signal.SIGKILL)
            self.process.wait(30)


def start_container_worker(
    log_dir: Path, nats_url: str, server_url: str, *, image: str = IMAGES["worker"], **env: str
) -> ContainerWorker:
    """Start ``image``'s worker hardened as in a Pod, on its own metrics port; not waited for."""
    worker_id = env.pop("WORKER_ID", f"w-{uuid.uuid4().hex[:8]}")
    port = free_port()
    worker_env = {
        "WORKER_ID": worker_id,
        "NATS_URL": nats_url,
        "NOETL_SERVER_URL": server_url,
        "WORKER_METRICS_BIND": f"127.0.0.1:{port}",
        "WORKER_HEARTBEAT_INTERVAL": "1",
        "WORKER_NATS_LAG_POLL_INTERVAL": "1",
        "WORKER_NATS_PULL_EXPIRY": "2",
        **env,
    }
    name = f"noetl-worker-{worker_id}"
    log_path = log_dir / f"{worker_id}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            run_argv(image, name=name, env=worker_env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return ContainerWorker(worker_id, port, process, log_path, {**worker_env, "CONTAINER_NAME": name})


# What the pod runner adds from the host for local processes; a container gets these from its image.
_IMAGE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def container_launcher() -> Launcher:
    """Run each worker Pod as the kubelet would: a container of the Pod's image, hardened as its spec says.

    The Pod's environment is passed as is (the image supplies PATH, HOME and the rest), its ``args`` (if
    any) replace the image's CMD, and its metrics port is moved to a free host port (containers share
    the host's network, so two pods cannot both bind 9090); probes follow it. Signals go through the
    daemon, so SIGTERM and the grace period reach the container's PID 1, not the ``docker run`` client.
    """

    def launch(start: ContainerStart) -> Launch:
        env = {key: value for key, value in start.env.items() if key not in _IMAGE_ENV}
        local = free_port()
        ports = {int(p["containerPort"]): local for p in start.container.get("ports") or []}
        env["WORKER_METRICS_BIND"] = f"127.0.0.1:{local}"
        name = f"noetl-pod-{start.pod['metadata']['name']}-{uuid.uuid4().hex[:6]}"
        argv = run_argv(start.container["image"], start.container.get("args") or (), name=name, env=env)
        container = Container(name)
        return Launch(argv=argv, env=dict(os.environ), ports=ports, signal=container.signal)

    return launch


def portable_kubeconfig(source: Path, target: Path) -> Path:
    """A copy of ``source`` with every file it names inlined (``*-data``), readable by any UID.

    A kubeconfig written by the envtest launcher points at certificate files in a private folder; a
    container (another UID, another filesystem) can read neither, so the content travels in the file.
    """
    config = yaml.safe_load(source.read_text())
    for section, key in (("clusters", "cluster"), ("users", "user")):
        for entry in config.get(section) or []:
            fields = entry.get(key) or {}
            for name in ("certificate-authority", "client-certificate", "client-key"):
                if name in fields:
                    fields[f"{name}-data"] = base64.b64encode(Path(fields.pop(name)).read_bytes()).decode()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.parent.chmod(0o755)
    target.write_text(yaml.safe_dump(config))
    target.chmod(0o644)
    return target
