"""Per-test JetStream names on the shared real nats-server, and a connected client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS
from noetl_worker.settings import WorkerSettings, load_settings

from tests.support.nats import NatsServer


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"NATS_STREAM": f"CMD_{tag}", "NATS_CONSUMER": f"pool_{tag}", "NATS_SUBJECT": f"t{tag}.commands"}


@pytest.fixture
def settings(nats_server: NatsServer, names: dict[str, str]) -> WorkerSettings:
    return load_settings({"NATS_URL": nats_server.url, "WORKER_ID": "w-test", **names})


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()
