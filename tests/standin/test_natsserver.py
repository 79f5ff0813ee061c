"""The real nats-server the stand-in, `noetl-worker dev`, the tests and the benchmarks run: its ports are the
ones it bound itself, so nothing can take them between choosing and binding."""

from __future__ import annotations

import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from noetl_standin.natsserver import NatsServerError, free_port, running_nats_server

pytestmark = pytest.mark.integration


def answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(4).startswith(b"INFO")


def test_the_server_reports_the_ports_it_bound_itself() -> None:
    with running_nats_server() as server:
        assert server.log_path is not None
        log = server.log_path.read_text()
        assert f"Listening for client connections on 127.0.0.1:{server.port}" in log
        assert re.search(rf"Starting http monitor on 127\.0\.0\.1:{server.monitor_port}\b", log)
        assert answers(server.port)


def test_a_restart_keeps_the_ports_and_the_store() -> None:
    with running_nats_server() as server:
        ports = (server.port, server.monitor_port)
        server.restart()
        assert (server.port, server.monitor_port) == ports
        assert answers(server.port)


def test_servers_started_together_each_bind_their_own_ports() -> None:
    # Eight at once, all alive together, as side-by-side test runs start them: with a port chosen before
    # the bind, two could pick the same one and the later failed with "address already in use".
    together = threading.Barrier(8, timeout=60)

    def start_and_hold(_: int) -> tuple[int, int]:
        with running_nats_server() as server:
            assert answers(server.port)
            together.wait()
            return server.port, server.monitor_port

    with ThreadPoolExecutor(8) as pool:
        bound = list(pool.map(start_and_hold, range(8)))
    assert len({port for pair in bound for port in pair}) == 16


def test_ports_taken_together_are_distinct_before_any_is_bound() -> None:
    # A three-node cluster takes nine ports before its first node binds one. The kernel only avoids bound
    # ports, so it could hand out one number twice (a node's route port was its own client port: "address
    # already in use", once in a side-by-side run). Five hundred unbound picks would repeat one almost surely.
    picked = [free_port() for _ in range(500)]
    assert len(set(picked)) == len(picked)


def test_an_explicit_port_that_is_taken_is_named_in_the_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(NatsServerError, match="address already in use"), running_nats_server(port=port):
            pass
