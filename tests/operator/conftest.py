"""Shared helpers for the operator tests: pools as the API server would hand them to the operator."""

from __future__ import annotations

import copy
from typing import Any

import nats
import pytest
import yaml
from nats.aio.client import Client

from tests.operator.crdcheck import ROOT

EXAMPLES = ROOT / "examples" / "pools"


def example_documents(name: str) -> list[dict[str, Any]]:
    """Every document of ``examples/pools/<name>``."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def example_pool(name: str) -> dict[str, Any]:
    """The NoetlWorkerPool document of an example file."""
    return next(doc for doc in example_documents(name) if doc["kind"] == "NoetlWorkerPool")


def example_secrets(name: str) -> list[dict[str, Any]]:
    """The Secret documents of an example file."""
    return [doc for doc in example_documents(name) if doc["kind"] == "Secret"]


EXAMPLE_FILES = sorted(path.name for path in EXAMPLES.glob("*.yaml"))


@pytest.fixture
def minimal_pool() -> dict[str, Any]:
    """A minimal valid pool (a fresh copy per test)."""
    return copy.deepcopy(example_pool("minimal.yaml"))


async def nats_connect(url: str) -> Client:
    """A test's own NATS connection, patient enough for a loaded CI machine."""
    return await nats.connect(url, connect_timeout=10, max_reconnect_attempts=5, reconnect_time_wait=0.5)
