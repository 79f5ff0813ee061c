"""The e2e suite's control-plane client against a real stand-in process (HTTP only, no NATS needed here)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from noetl_standin.jobs import JobStatus

from e2e.harness.controlplane import ControlPlaneError, StandinControlPlane, finished, sleep_job
from tests.shipping.manifests import venv_tool
from tests.support.nats import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def standin_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [venv_tool("noetl-standin", "noetl-standin"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, f"the stand-in exited: {process.stderr.read() if process.stderr else ''}"
            assert time.monotonic() < deadline, "the stand-in did not answer /api/health within 30 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def control_plane(standin_url: str) -> Iterator[StandinControlPlane]:
    client = StandinControlPlane(standin_url)
    yield client
    client.close()


def test_a_submitted_job_is_reported_command_by_command(control_plane: StandinControlPlane) -> None:
    control_plane.check()
    execution_id = control_plane.submit(sleep_job(commands=3, seconds=0.5, prefix="probe"))

    view = control_plane.job(execution_id)

    assert view.execution_id == execution_id
    assert sorted(view.commands) == ["probe-0000", "probe-0001", "probe-0002"]
    assert view.status == JobStatus.RUNNING  # no worker is pulling: nothing can have finished
    assert not finished(view)


def test_an_unknown_job_is_a_clear_error(control_plane: StandinControlPlane) -> None:
    with pytest.raises(ControlPlaneError, match=r"GET /_standin/jobs/424242 answered 404"):
        control_plane.job(424242)


def test_an_unreachable_control_plane_is_a_clear_error() -> None:
    client = StandinControlPlane(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ControlPlaneError, match=r"GET http://127\.0\.0\.1:\d+/api/health: ConnectError"):
        client.check()
    client.close()
