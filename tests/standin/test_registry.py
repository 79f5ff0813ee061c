"""Worker registry, pool status and health, from the wire."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from noetl_wire.pool import PoolStatus
from noetl_wire.workers import HeartbeatResponse, RegisterResponse

from tests.standin.conftest import StandinFactory
from tests.wire.capture import startup_records

pytestmark = pytest.mark.integration


async def test_health_routes(http: httpx.AsyncClient) -> None:
    for path in ("/health", "/api/health"):
        response = await http.get(path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_the_real_worker_registration_is_accepted(http: httpx.AsyncClient) -> None:
    (_, record), *_ = startup_records()
    response = await http.post("/api/worker/pool/register", json=record["req_body"])
    assert response.status_code == 200
    registered = RegisterResponse.model_validate_json(response.content)
    assert (registered.name, registered.kind, registered.runtime) == ("worker-0ba74cc1", "worker_pool", "python")
    assert set(response.json()) == set(record["resp_body"])
    again = await http.post("/api/worker/pool/register", json=record["req_body"])
    assert again.json()["runtime_id"] == registered.runtime_id, "register is an upsert by name"


async def test_heartbeat_of_a_registered_worker_is_ok(http: httpx.AsyncClient) -> None:
    await http.post("/api/worker/pool/register", json={"name": "hb-1", "runtime": "python"})
    response = await http.post("/api/worker/pool/heartbeat", json={"name": "hb-1"})
    assert HeartbeatResponse.model_validate_json(response.content).status == "ok"


async def test_heartbeat_of_an_unknown_worker_is_404_with_retry_after(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/worker/pool/heartbeat", json={"name": "nobody"})
    assert response.status_code == 404
    assert response.json() == {"detail": {"status": "unknown", "name": "nobody"}}
    assert float(response.headers["retry-after"]) > 0


async def test_heartbeat_with_a_registration_recreates_the_row(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/worker/pool/heartbeat", json={"name": "phoenix", "registration": {"name": "phoenix", "runtime": "python"}}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "recreated"
    listed = (await http.get("/api/worker/pools")).json()["items"]
    assert any(row["name"] == "phoenix" and row["status"] == "ready" for row in listed)


async def test_deregister_marks_the_worker_offline(http: httpx.AsyncClient) -> None:
    await http.post("/api/worker/pool/register", json={"name": "bye", "runtime": "python"})
    for method in ("POST", "DELETE"):
        response = await http.request(method, "/api/worker/pool/deregister", json={"name": "bye"})
        assert response.status_code == 200
    rows = (await http.get("/api/worker/pools", params={"status": "offline"})).json()["items"]
    assert [row["name"] for row in rows if row["name"] == "bye"] == ["bye"]


async def test_registration_needs_a_name(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/worker/pool/register", json={"runtime": "python"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


async def test_silent_workers_are_reported_offline(standin_factory: StandinFactory) -> None:
    url = standin_factory(runtime_offline_seconds=0.2).url
    async with httpx.AsyncClient(base_url=url) as http:
        await http.post("/api/worker/pool/register", json={"name": "quiet", "runtime": "python"})
        await asyncio.sleep(0.3)
        (row,) = (await http.get("/api/worker/pools")).json()["items"]
        assert row["status"] == "offline"
        await http.post("/api/worker/pool/heartbeat", json={"name": "quiet"})
        (row,) = (await http.get("/api/worker/pools")).json()["items"]
        assert row["status"] == "ready"


async def test_pool_status_has_the_shape_workers_poll(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/pool/status")
    status = PoolStatus.model_validate_json(response.content)
    assert status.status == "ok"
    assert 0 <= status.utilization <= 1
    assert status.pool_available <= status.pool_max
