"""Chaos-tier switches: the long variant runs with ``NOETL_CHAOS_LONG=1`` or ``--chaos-long``.

``--chaos-long`` is registered here, so it is known when pytest is pointed at ``tests/chaos`` (this
conftest is then loaded before option parsing); from the repository root use the environment variable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.chaos.ledger import AttemptLedger
from tests.support.postgres import PostgresInstance


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-long", action="store_true", default=False, help="run the long chaos variant (>= 5,000 commands)"
    )


@pytest.fixture
def chaos_long(request: pytest.FixtureRequest) -> bool:
    flag = bool(request.config.getoption("--chaos-long", default=False))
    return flag or os.environ.get("NOETL_CHAOS_LONG", "").lower() in ("1", "true", "yes")


@pytest.fixture
def names() -> dict[str, str]:
    """Per-test stream, consumer and subject, so chaos never shares JetStream state with another test."""
    tag = uuid.uuid4().hex[:10]
    return {"NATS_STREAM": f"CHAOS_{tag}", "NATS_CONSUMER": f"chaos_{tag}", "NATS_SUBJECT": f"chaos{tag}.commands"}


@pytest.fixture
async def ledger(postgres: PostgresInstance) -> AsyncIterator[AttemptLedger]:
    """A fresh attempt table in the session's PostgreSQL, dropped afterwards."""
    table = await AttemptLedger.create(postgres.dsn)
    yield table
    await table.drop()
