"""The real-server fixtures really serve: JetStream accepts a publish, PostgreSQL answers a query."""

from __future__ import annotations

import asyncpg
import nats
import pytest

from tests.support.nats import NatsServer
from tests.support.postgres import PostgresInstance

pytestmark = pytest.mark.integration


async def test_nats_fixture_runs_jetstream(nats_server: NatsServer) -> None:
    client = await nats.connect(nats_server.url)
    try:
        js = client.jetstream()
        await js.add_stream(name="FIXTURE_PROBE", subjects=["fixture.probe"])
        ack = await js.publish("fixture.probe", b"hello")
        assert ack.stream == "FIXTURE_PROBE"
        assert ack.seq == 1
    finally:
        await client.close()


async def test_postgres_fixture_answers_queries(postgres: PostgresInstance) -> None:
    connection = await asyncpg.connect(postgres.dsn)
    try:
        version = await connection.fetchval("select current_setting('server_version_num')::int")
        assert version >= 150000
        assert await connection.fetchval("select inet_server_addr()::text") == "127.0.0.1/32"
    finally:
        await connection.close()
