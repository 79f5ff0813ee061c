"""Fixtures of the image tier: the three images built by `make images`, run as real containers.

The session first makes sure the images are current: it runs scripts/build-images, which starts the
Docker daemon if needed (scripts/docker-up) and rebuilds only what changed (BuildKit's layer cache; a
warm run takes seconds). Without Docker the tier skips with one line on a developer machine and FAILS
in CI (``CI=true``, the suite-wide rule in tests/conftest.py).

Every test collected below ``tests/image/`` gets the ``image`` marker.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.containers import IMAGES, REPO_ROOT, docker_unavailable, remove_labelled

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
    built = subprocess.run(
        [REPO_ROOT / "scripts" / "build-images"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        pytest.fail(f"scripts/build-images failed:\n{built.stderr[-4000:]}", pytrace=False)
    try:
        yield dict(IMAGES)
    finally:
        remove_labelled()


@pytest.fixture
def names() -> dict[str, str]:
    """Per-test stream, consumer and subject names on the session's nats-server."""
    tag = uuid.uuid4().hex[:10]
    return {"NATS_STREAM": f"CMD_{tag}", "NATS_CONSUMER": f"pool_{tag}", "NATS_SUBJECT": f"t{tag}.commands"}
