"""Helpers shared by the tool tests: a real ToolContext for one command."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
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
