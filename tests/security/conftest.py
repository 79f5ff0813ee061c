"""Per-test JetStream names for the security tier (the session's nats-server is shared)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def names() -> dict[str, str]:
    """A stream, consumer and subject no other test uses."""
    tag = uuid.uuid4().hex[:10]
    return {"NATS_STREAM": f"SEC_{tag}", "NATS_CONSUMER": f"sec_{tag}", "NATS_SUBJECT": f"sec{tag}.commands"}
