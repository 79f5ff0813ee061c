"""Helpers shared by the tool tests: a real ToolContext for one command, and the real stand-in control plane
(``tests/support/standin.py``) with the worker's own control-plane client for tools that use it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from noetl_worker.control_plane.client import BoundControlPlane, ControlPlaneClient
from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.tools.base import ToolContext
from noetl_worker.tools.registry import default_registry

MakeContext = Callable[..., ToolContext]


def make_context(
    *,
    step: str = "step1",
    timeout: float = 60.0,
    secrets: Mapping[str, str] | None = None,
    variables: Mapping[str, Any] | None = None,
    **extra: Any,
) -> ToolContext:
    """A command context as the executor builds it (execution 7, command 42, worker ``w-test``)."""
    extra.setdefault("registry", default_registry())
    return ToolContext(
        execution_id=7,
        step=step,
        command_id=42,
        worker_id="w-test",
        server_url="http://127.0.0.1:1",
        deadline=time.monotonic() + timeout,
        secrets=dict(secrets or {}),
        variables=dict(variables or {}),
        **extra,
    )


@pytest.fixture
def ctx() -> MakeContext:
    return make_context


@pytest.fixture(scope="session")
def standin_url() -> Iterator[str]:
    """A stand-in control plane (HTTP only), shared by the tool tests (tests use unique names)."""
    from tests.support.standin import running_standin  # noqa: PLC0415 - only modules that need it pay for it

    with running_standin() as standin:
        yield standin.url


@pytest.fixture
async def control_plane(standin_url: str) -> AsyncIterator[BoundControlPlane]:
    """The worker's real control-plane client, bound to the stand-in (what the executor gives tools)."""
    client = ControlPlaneClient(worker_id="w-test", server_url=standin_url, metrics=WorkerMetrics())
    yield client.bound(standin_url)
    await client.aclose()


def seed_credential(standin_url: str, name: str, type_: str, data: dict[str, Any]) -> None:
    response = httpx.post(f"{standin_url}/api/credentials", json={"name": name, "type": type_, "data": data})
    response.raise_for_status()


def seed_result(standin_url: str, execution_id: int, name: str, data: Any) -> str:
    response = httpx.put(f"{standin_url}/api/result/{execution_id}", json={"name": name, "data": data})
    response.raise_for_status()
    ref: str = response.json()["ref"]
    return ref
