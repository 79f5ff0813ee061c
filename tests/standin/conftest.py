"""Fixtures for the stand-in's contract tests: the stand-in as a real subprocess, and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import httpx
import pytest
from noetl_standin.admin import StandinAdmin

from tests.support.standin import StandinProcess, running_standin

StandinFactory = Callable[..., StandinProcess]


@pytest.fixture
def standin_factory() -> Iterator[StandinFactory]:
    """Start stand-ins with custom settings (``standin_factory(nats_url=..., claim_lease_seconds=0.2)``)."""
    with ExitStack() as stack:

        def start(**settings: Any) -> StandinProcess:
            manager: AbstractContextManager[StandinProcess] = running_standin(**settings)
            return stack.enter_context(manager)

        yield start


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinProcess]:
    """An HTTP-only stand-in (no NATS) with production timers, shared by a module's tests.

    Sharing is safe because every job gets fresh snowflake ids; tests that change global state
    (faults, counters, timers) start their own with ``standin_factory``.
    """
    with running_standin() as process:
        yield process


@pytest.fixture
async def http(standin: StandinProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to ``standin``."""
    async with httpx.AsyncClient(base_url=standin.url, timeout=10) as client:
        yield client


@pytest.fixture
async def admin(standin: StandinProcess) -> AsyncIterator[StandinAdmin]:
    async with StandinAdmin(standin.url) as client:
        yield client
