"""Shared NATS connections: one per server and credentials, replaced when dropped, all closed at shutdown."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from nats.errors import ConnectionClosedError
from nats.errors import Error as NatsError
from noetl_operator.natspool import NatsAccess, NatsConnections

from tests.support.nats import NatsServer

pytestmark = pytest.mark.integration


async def test_the_same_server_and_credentials_share_one_connection(nats_server: NatsServer) -> None:
    connections = NatsConnections()
    try:
        first = await connections.client(NatsAccess(url=nats_server.url))
        again = await connections.client(NatsAccess(url=nats_server.url, connect_timeout=1.0))
        other_user = await connections.client(NatsAccess(url=nats_server.url, user="u", password="p"))
        assert first is again
        assert other_user is not first
        assert len(connections) == 2
    finally:
        await connections.close()
    assert first.is_closed
    assert other_user.is_closed
    assert len(connections) == 0


async def test_a_dropped_connection_is_replaced_not_reconnected_in_the_background(
    private_nats_server: NatsServer,
) -> None:
    connections = NatsConnections()
    access = NatsAccess(url=private_nats_server.url, connect_timeout=2.0)
    try:
        first = await connections.client(access)
        private_nats_server.restart()
        for _ in range(100):
            if not first.is_connected:
                break
            await asyncio.sleep(0.05)
        assert not first.is_connected, "the client noticed the server going away"
        replacement = await connections.client(access)
        assert replacement is not first
        assert replacement.is_connected
    finally:
        await connections.close()


async def test_connections_unused_for_a_while_are_closed(
    nats_server: NatsServer, private_nats_server: NatsServer
) -> None:
    connections = NatsConnections(idle_close_seconds=0.0)
    try:
        old = await connections.client(NatsAccess(url=private_nats_server.url))
        await connections.client(NatsAccess(url=nats_server.url))
        assert old.is_closed, "the other server's connection was idle past the limit"
        assert len(connections) == 1
    finally:
        await connections.close()


async def test_an_unreachable_server_raises_for_the_caller_to_report() -> None:
    connections = NatsConnections()
    with pytest.raises((NatsError, OSError, TimeoutError)):
        await connections.client(NatsAccess(url="nats://127.0.0.1:9", connect_timeout=0.5))
    assert len(connections) == 0


def _operator_connections(server: NatsServer) -> int:
    with urllib.request.urlopen(f"{server.monitor_url}/connz?limit=1024", timeout=5) as response:
        connz = json.load(response)
    return sum(1 for conn in connz.get("connections") or [] if conn.get("name") == "noetl-operator")


async def test_after_close_no_connection_is_opened_not_even_one_that_was_connecting(
    private_nats_server: NatsServer,
) -> None:
    connections = NatsConnections()
    access = NatsAccess(url=private_nats_server.url)
    # A check that is connecting while the operator shuts down (kopf can leave a daemon running that long).
    connecting = asyncio.create_task(connections.client(access))
    await asyncio.sleep(0)
    await connections.close()
    with pytest.raises(ConnectionClosedError):
        await connecting
    with pytest.raises(ConnectionClosedError):
        await connections.client(access)
    assert len(connections) == 0
    # The server's own view: the monitoring endpoint lists client connections until they are gone.
    for _ in range(50):
        if _operator_connections(private_nats_server) == 0:
            break
        await asyncio.sleep(0.1)
    assert _operator_connections(private_nats_server) == 0
