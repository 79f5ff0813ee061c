"""What each built image says about itself: provenance labels, its SBOM, its OS packages, and what it
must not carry (the build machine's CA bundle, build tools, the other component's dependencies)."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from tests.support.containers import REPO_ROOT, docker

COMPONENTS = ["worker", "standin", "operator"]
# Distributions each image's SBOM must list, and ones it must not (the same split as its venv).
SBOM_REQUIRED = {
    "worker": {"nats-py", "duckdb", "asyncpg", "pyarrow", "httpx"},
    "standin": {"nats-py", "uvicorn", "noetl-standin"},
    "operator": {"kopf", "aiohttp"},
}
SBOM_FORBIDDEN = {"worker": {"kopf", "pytest"}, "standin": {"kopf", "pytest"}, "operator": {"duckdb", "pyarrow"}}


def labels(image: str) -> dict[str, str]:
    found: dict[str, str] = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout)
    return found


def read_in(image: str, path: str) -> bytes:
    """A file of the image, read by a throw-away container of it (no network)."""
    result = subprocess.run(
        ["docker", "run", "--rm", "--network=none", "--entrypoint=cat", image, path],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("component", COMPONENTS)
def test_labels_tie_the_image_to_its_commit_lock_and_base(images: dict[str, str], component: str) -> None:
    found = labels(images[component])
    assert found["org.opencontainers.image.title"] == f"noetl-{component}"
    assert found["io.noetl.uv-lock.sha256"] == hashlib.sha256((REPO_ROOT / "uv.lock").read_bytes()).hexdigest()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert found["org.opencontainers.image.revision"].removesuffix("-dirty") == head.stdout.strip()
    base = found["org.opencontainers.image.base.name"]
    assert base, "the base image is not named"
    base_id = docker("image", "inspect", "--format", "{{.Id}}", base).stdout.strip()
    assert found["org.opencontainers.image.base.digest"] == base_id


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_sbom_lists_the_locked_set_of_the_image(images: dict[str, str], component: str) -> None:
    sbom = json.loads(read_in(images[component], labels(images[component])["io.noetl.sbom"]))
    assert sbom["bomFormat"] == "CycloneDX"
    components = {item["name"]: item for item in sbom["components"]}
    assert SBOM_REQUIRED[component] <= set(components)
    assert not SBOM_FORBIDDEN[component] & set(components)
    assert all(item["purl"].startswith("pkg:pypi/") for item in components.values() if "purl" in item)
    exported = REPO_ROOT / "dist" / "images" / f"noetl-{component}"
    assert json.loads((exported / "sbom.cdx.json").read_text())["components"] == sbom["components"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_os_package_list_names_source_packages_and_versions(images: dict[str, str], component: str) -> None:
    listing = (REPO_ROOT / "dist" / "images" / f"noetl-{component}" / "os-packages.tsv").read_text().splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in listing}
    assert {"libc6", "ca-certificates"} <= set(rows)
    assert all(len(row) == 4 and all(row) for row in rows.values()), "package, version, source, source version"
    assert not {"gcc", "make", "curl", "wget"} & set(rows), "a build tool or downloader in the runtime image"


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_runtime_image_carries_the_base_s_ca_bundle_not_the_build_machine_s(
    images: dict[str, str], component: str
) -> None:
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    image = images[component]
    assert read_in(image, bundle) == read_in(labels(image)["org.opencontainers.image.base.name"], bundle)


def test_the_worker_image_has_no_uv_and_no_pyarrow_flight(images: dict[str, str]) -> None:
    probe = "; ".join(
        [
            "import importlib.util as u, shutil",
            "print(shutil.which('uv'), u.find_spec('pyarrow._flight'), u.find_spec('duckdb') is not None)",
        ]
    )
    result = docker("run", "--rm", "--network=none", "--entrypoint=python3", images["worker"], "-c", probe)
    assert result.stdout.split() == ["None", "None", "True"]
