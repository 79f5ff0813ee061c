"""Fault injection from the wire: latency, 503 pool_saturated, outage windows, responses lost after commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from noetl_standin.admin import StandinAdmin, StandinAdminError
from noetl_standin.faults import FaultConfig, FaultInjector
from noetl_wire.errors import ErrorCode, parse_error_code

from tests.standin.helpers import issue_one, started_batch
from tests.support.standin import StandinProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def own(standin: StandinProcess) -> AsyncIterator[tuple[httpx.AsyncClient, StandinAdmin]]:
    """The module's stand-in with faults cleared and counters reset before and after the test."""
    async with httpx.AsyncClient(base_url=standin.url, timeout=5) as http, StandinAdmin(standin.url) as admin:
        await admin.clear_faults()
        await admin.reset_counters()
        yield http, admin
        await admin.clear_faults()


async def test_added_latency_applies_to_the_api_only(own: tuple[httpx.AsyncClient, StandinAdmin]) -> None:
    http, admin = own
    await admin.inject_faults(latency_ms=300, paths=["/api/health"])
    started = time.monotonic()
    assert (await http.get("/api/health")).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await http.get("/health")
    await http.get("/api/pool/status")
    assert time.monotonic() - started < 0.3


async def test_a_share_of_requests_gets_503_pool_saturated_with_retry_after(
    own: tuple[httpx.AsyncClient, StandinAdmin],
) -> None:
    http, admin = own
    await admin.inject_faults(saturation_ratio=1.0, saturation_retry_after=3, limit=2)
    first, second, third = [await http.get("/api/pool/status") for _ in range(3)]
    for response in (first, second):
        assert response.status_code == 503
        assert parse_error_code(response.content) is ErrorCode.POOL_SATURATED
        assert response.headers["retry-after"] == "3"
    assert third.status_code == 200, "the limit stops the injection"
    assert (await admin.counters())["faults"] == {"saturated": 2}


async def test_a_seeded_ratio_is_reproducible(own: tuple[httpx.AsyncClient, StandinAdmin]) -> None:
    http, admin = own
    runs = []
    for _ in range(2):
        await admin.inject_faults(saturation_ratio=0.5, seed=7)
        runs.append([(await http.get("/api/health")).status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert {200, 503} == set(runs[0])


async def test_an_outage_window_answers_503_until_it_ends_but_admin_stays_up(
    own: tuple[httpx.AsyncClient, StandinAdmin],
) -> None:
    http, admin = own
    await admin.inject_faults(outage_seconds=0.5, outage_retry_after=1)
    response = await http.post("/api/commands/1/claim", json={"worker_id": "w"})
    assert response.status_code == 503
    assert response.json()["detail"]["code"] == "db_unavailable"
    assert await admin.health()
    assert (await admin.counters())["faults"]["outage"] == 1
    await asyncio.sleep(0.6)
    assert (await http.post("/api/commands/1/claim", json={"worker_id": "w"})).status_code == 404


async def test_a_dropped_response_times_out_the_client_but_the_write_happened(
    own: tuple[httpx.AsyncClient, StandinAdmin],
) -> None:
    http, admin = own
    job, command = await issue_one(admin)
    assert command.command_id is not None
    await admin.inject_faults(drop_ratio=1.0, paths=["/api/events/batch"], limit=1)
    body = started_batch(job.execution_id, "step", command.command_id)
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/api/events/batch", json=body, headers={"Idempotency-Key": "k"}, timeout=0.5)
    assert len(await admin.events(job.execution_id, name="command.started")) == 1
    retry = await http.post("/api/events/batch", json=body, headers={"Idempotency-Key": "k"})
    assert (retry.status_code, retry.json()["duplicate"]) == (202, True), "the client's retry is deduplicated"
    assert (await admin.counters())["faults"]["dropped_response"] == 1


async def test_method_filters_and_clearing(own: tuple[httpx.AsyncClient, StandinAdmin]) -> None:
    http, admin = own
    await admin.inject_faults(saturation_ratio=1.0, methods=["POST"])
    assert (await http.get("/api/health")).status_code == 200
    assert (await http.post("/api/events", json={})).status_code == 503
    await admin.clear_faults()
    assert (await http.post("/api/events", json={})).status_code == 422


async def test_a_bad_fault_config_is_422(own: tuple[httpx.AsyncClient, StandinAdmin]) -> None:
    _, admin = own
    with pytest.raises(StandinAdminError) as caught:
        await admin._call("PUT", "/_standin/faults", json={"saturation_ratio": 2})
    assert caught.value.status == 422
    with pytest.raises(StandinAdminError):
        await admin._call("PUT", "/_standin/faults", json={"explode": True})


@pytest.mark.unit
def test_faults_never_touch_non_api_paths() -> None:
    injector = FaultInjector()
    injector.configure(FaultConfig(outage_seconds=60, latency_ms=5))
    assert injector.decide("GET", "/_standin/jobs").reject is None
    assert injector.decide("GET", "/health").latency == 0
    assert injector.decide("GET", "/api/health").reject == "outage"
    injector.clear()
    assert injector.decide("GET", "/api/health").reject is None
