"""Fixtures of the image tier: the three images built by `make images`, run as real containers.

The session first makes sure the images are current: it runs scripts/build-images under a tag of its
own (``test-<pid>``, removed at the end), which starts the Docker daemon if needed (scripts/docker-up)
and rebuilds only what changed (BuildKit's layer cache; a warm run takes seconds). Without Docker the
tier skips with one line on a developer machine and FAILS in CI (``CI=true``, the suite-wide rule in
tests/conftest.py).

Every test collected below ``tests/image/`` gets the ``image`` marker.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.containers import IMAGES, REPO_ROOT, docker, docker_unavailable, remove_labelled

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.image)


@pytest.fixture(scope="session")
def images() -> Iterator[dict[str, str]]:
    """``{"worker": "noetl-worker:dev", ...}``, built from this checkout; containers removed at the end."""
    missing = docker_unavailable()
    if missing is not None:
        pytest.skip(f"image tier: {missing}")
    # A tag of this session's own: other worktrees and CI runs on the same daemon build `:dev` too, and
    # must not swap the images under a running session. The layers are shared, so this costs tags only.
    tag = f"test-{os.getpid()}"
    built = subprocess.run(
        [REPO_ROOT / "scripts" / "build-images", "--tag", tag],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"scripts/build-images failed:\n{built.stderr[-4000:]}", pytrace=False)
    images = {component: f"{image.partition(':')[0]}:{tag}" for component, image in IMAGES.items()}
    try:
        yield images
    finally:
        remove_labelled()
        docker("rmi", *images.values(), check=False)


@pytest.fixture(autouse=True)
def _images_first(images: dict[str, str]) -> None:
    """Every test here needs the images: skip (or build) before any other fixture starts a server."""


@pytest.fixture
def names() -> dict[str, str]:
    """Per-test stream, consumer and subject names on the session's nats-server."""
    tag = uuid.uuid4().hex[:10]
    return {"NATS_STREAM": f"CMD_{tag}", "NATS_CONSUMER": f"pool_{tag}", "NATS_SUBJECT": f"t{tag}.commands"}
