"""Each image's install step, replayed outside Docker into a fresh virtualenv, gives a working entry point.

The builder stage of each Dockerfile is replayed instruction by instruction: its COPY lines build a
scratch build context (so a source the Dockerfile forgets to copy fails here), its ENV lines are
honoured, and its RUN lines — which may only call scripts/image-install — run with the image's venv
path redirected into a temporary folder. uv's cache is shared with the developer's, so a warm run
takes seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.shipping.dockerfiles import REPO_ROOT, Dockerfile, operator_dockerfile, worker_dockerfile
from tests.shipping.manifests import uv

pytestmark = pytest.mark.integration

IMAGE_VENV = "/opt/venv"
IMAGE_PYTHON_MINOR = "3.12"


@dataclass(frozen=True)
class Build:
    """A builder stage to replay and what the resulting venv must (not) contain."""

    dockerfile: Callable[[], Dockerfile]
    stage: str
    entrypoint: str
    module: str
    required: frozenset[str]
    forbidden: frozenset[str]


BUILDS = [
    pytest.param(
        Build(
            worker_dockerfile,
            "builder",
            "noetl-worker",
            "noetl_worker",
            required=frozenset({"noetl-worker", "noetl-wire", "nats-py", "duckdb", "asyncpg"}),
            forbidden=frozenset({"kopf", "kubernetes", "noetl-operator", "noetl-standin", "pytest"}),
        ),
        id="worker",
    ),
    pytest.param(
        Build(
            worker_dockerfile,
            "standin-builder",
            "noetl-standin",
            "noetl_standin",
            required=frozenset({"noetl-worker", "noetl-standin", "noetl-wire", "uvicorn"}),
            forbidden=frozenset({"kopf", "kubernetes", "noetl-operator", "pytest"}),
        ),
        id="standin",
    ),
    pytest.param(
        Build(
            operator_dockerfile,
            "builder",
            "noetl-operator",
            "noetl_operator",
            required=frozenset({"noetl-operator", "noetl-wire", "kopf", "aiohttp"}),
            forbidden=frozenset(
                {"duckdb", "asyncpg", "pyarrow", "kubernetes", "noetl-worker", "noetl-standin", "pytest"}
            ),
        ),
        id="operator",
    ),
]


def interpreter() -> str:
    """The image's Python minor if this machine has it (never downloaded), else the running one."""
    found = subprocess.run(
        [uv(), "python", "find", "--no-project", IMAGE_PYTHON_MINOR],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    return (
        found.stdout.strip() if found.returncode == 0 and found.stdout.strip() else shutil.which("python3") or "python3"
    )


def replay_builder(build: Build, context: Path, venv: Path) -> None:
    """Run the builder stage's COPY, ENV, WORKDIR and RUN lines against a scratch context."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("UV_", "VIRTUAL_ENV"))}
    env["UV"] = uv()
    workdir = context
    for stage in build.dockerfile().chain(build.stage):
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                workdir = context / instruction.text.strip().lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif instruction.keyword == "ENV":
                for word in instruction.words():
                    name, _, value = word.partition("=")
                    env[name] = value
            elif instruction.keyword == "COPY":
                flags, words = instruction.flags_and_args()
                if "from" in flags:
                    continue  # the uv binary: this machine's uv stands in for it
                *sources, destination = words
                for source in sources:
                    target = workdir / destination
                    if destination.endswith("/"):
                        target = target / Path(source).name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    origin = REPO_ROOT / source
                    if origin.is_dir():
                        shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                    else:
                        shutil.copy2(origin, target)
            elif instruction.keyword == "RUN":
                _, command = instruction.flags_and_args()
                assert command[0] == "scripts/image-install", f"line {instruction.line}: unexpected RUN {command}"
                command = [str(venv) if word == IMAGE_VENV else word for word in command]
                env["UV_PYTHON"] = interpreter()
                result = subprocess.run(command, check=False, cwd=workdir, env=env, capture_output=True, text=True)
                assert result.returncode == 0, f"line {instruction.line} failed:\n{result.stderr}"


def installed_distributions(venv: Path) -> set[str]:
    listing = subprocess.run(
        [
            venv / "bin" / "python",
            "-c",
            "import importlib.metadata as m, json; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return {name.lower().replace("_", "-") for name in json.loads(listing.stdout)}


@pytest.fixture(scope="module", params=BUILDS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Build, Path]:
    build: Build = request.param
    root = tmp_path_factory.mktemp(build.entrypoint)
    venv = root / "venv"
    replay_builder(build, root / "context", venv)
    return build, venv


def test_the_entry_point_reports_its_version(built: tuple[Build, Path]) -> None:
    build, venv = built
    result = subprocess.run(
        [venv / "bin" / build.entrypoint, "--version"],
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{build.entrypoint} ")


def test_the_package_imports_from_the_venv_not_the_source_tree(built: tuple[Build, Path]) -> None:
    build, venv = built
    located = subprocess.run(
        [venv / "bin" / "python", "-c", f"import {build.module}, {build.module}.cli; print({build.module}.__file__)"],
        check=False,
        capture_output=True,
        text=True,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert located.returncode == 0, located.stderr
    assert Path(located.stdout.strip()).is_relative_to(venv), "installed editable: the image would point at /src"


def test_carries_exactly_its_own_dependencies(built: tuple[Build, Path]) -> None:
    build, venv = built
    installed = installed_distributions(venv)
    assert build.required <= installed, f"missing: {sorted(build.required - installed)}"
    assert not build.forbidden & installed, f"must not be in this image: {sorted(build.forbidden & installed)}"


def test_bytecode_is_compiled_at_install_time(built: tuple[Build, Path]) -> None:
    # The root filesystem is read-only at run time, so bytecode not compiled now is recompiled on every start.
    build, venv = built
    (package,) = venv.glob(f"lib/python3.*/site-packages/{build.module}")
    assert list((package / "__pycache__").glob("cli.*.pyc")), f"no compiled bytecode under {package}"


def test_python3_on_path_is_the_venv_interpreter(built: tuple[Build, Path]) -> None:
    # The python tool runs `python3` as a subprocess; with PATH=/opt/venv/bin:... that must be the venv.
    _, venv = built
    assert (venv / "bin" / "python3").exists()
