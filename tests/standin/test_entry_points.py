"""Entry points: the ``noetl-standin`` command and the in-process ``StandinServer``."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.natsserver import free_port
from noetl_standin.server import StandinServer, StandinStartError
from noetl_standin.settings import StandinSettings

from tests.support.nats import NatsServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--port", "70000"], "invalid settings: port"),
        (["--claim-lease", "-1"], "invalid settings: claim_lease_seconds"),
        (["--port", "x"], "invalid int value"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_clear_line(argv: list[str], fragment: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "noetl_standin.cli", *argv], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_reported_not_crashed_through() -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(
            [sys.executable, "-m", "noetl_standin.cli", "--port", str(port)],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert "address already in use" in result.stderr.lower()


async def test_in_process_server_on_port_zero_with_nats(nats_server: NatsServer) -> None:
    settings = StandinSettings(port=0, nats_url=nats_server.url, nats_stream="T_INPROC", nats_subject="inproc.commands")
    async with StandinServer(settings) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert not server.url.endswith(":0")
        async with StandinAdmin(server.url) as admin, httpx.AsyncClient(base_url=server.url) as http:
            job = await admin.submit_job([{"name": "a", "kind": "noop"}])
            response = await http.post(f"/api/commands/{job.commands['a'].event_id}/claim", json={"worker_id": "w"})
            assert response.status_code == 200
        assert server.plane.counters.publish["published"] == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health")


async def test_in_process_server_reports_an_unreachable_nats() -> None:
    with pytest.raises(StandinStartError, match=r"cannot connect to NATS at nats://127\.0\.0\.1:1"):
        async with StandinServer(StandinSettings(port=0, nats_url="nats://127.0.0.1:1")):
            pass
