"""The control-plane client against the real stand-in over HTTP (and an older server without batches)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from noetl_standin.admin import StandinAdmin
from noetl_standin.natsserver import free_port
from noetl_wire.events import BatchEvent
from noetl_worker.control_plane.client import (
    ClaimStatus,
    ControlPlaneClient,
    ControlPlaneError,
    EncodedJSON,
    endpoint_of,
)
from noetl_worker.control_plane.retry import Backoff
from noetl_worker.executor.results import encode_json
from noetl_worker.runtime.metrics import WorkerMetrics
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.standin import StandinProcess, running_standin

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.05, cap=0.2, floor=0.01)


@pytest.fixture
def standin() -> Iterator[StandinProcess]:
    with running_standin(claim_lease_seconds=60) as process:  # HTTP only: no NATS needed to claim
        yield process


@pytest.fixture
async def admin(standin: StandinProcess) -> AsyncIterator[StandinAdmin]:
    async with StandinAdmin(standin.url) as client:
        yield client


def client_for(url: str, worker_id: str = "w-1", timeout: float = 5.0) -> ControlPlaneClient:
    return ControlPlaneClient(
        worker_id=worker_id, server_url=url, metrics=WorkerMetrics(), timeout=timeout, backoff=FAST
    )


async def one_command(admin: StandinAdmin, **command: Any) -> tuple[int, int]:
    job = await admin.submit_job([{"name": "s", "kind": "noop", **command}])
    event_id = job.commands["s"].event_id
    assert event_id is not None
    return job.execution_id, event_id


async def test_claim_outcomes(admin: StandinAdmin, standin: StandinProcess) -> None:
    _, event_id = await one_command(admin)
    mine, theirs = client_for(standin.url, "w-1"), client_for(standin.url, "w-2")
    claimed = await mine.claim(standin.url, event_id)
    assert claimed.status is ClaimStatus.CLAIMED
    assert claimed.command is not None
    assert claimed.command.event_id == event_id
    held = await theirs.claim(standin.url, event_id)
    assert held.status is ClaimStatus.HELD
    assert held.retry_after is not None
    assert (await mine.claim(standin.url, 999)).status is ClaimStatus.NOT_FOUND
    unreachable = await mine.claim(f"http://127.0.0.1:{free_port()}", event_id)
    assert unreachable.status is ClaimStatus.UNAVAILABLE
    await mine.aclose()
    await theirs.aclose()
    # Every answer is counted by its HTTP status, and timed per endpoint.
    claims = {
        code: mine.metrics.registry.get_sample_value("noetl_worker_claims_total", {"code": code})
        for code in ("200", "404", "unreachable")
    }
    assert claims == {"200": 1.0, "404": 1.0, "unreachable": 1.0}
    assert theirs.metrics.registry.get_sample_value("noetl_worker_claims_total", {"code": "409"}) == 1.0
    timed = mine.metrics.registry.get_sample_value(
        "noetl_worker_control_plane_request_duration_seconds_count", {"endpoint": "claim", "code": "200"}
    )
    assert timed == 1.0


@pytest.mark.unit
@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("commands/12/claim", "claim"),
        ("events/batch", "events_batch"),
        ("events", "events"),
        ("result/resolve", "result_resolve"),
        ("result/77", "result"),
        ("vars/77", "vars"),
        ("credentials/pg", "credentials"),
        ("worker/pool/register", "register"),
        ("worker/pool/heartbeat", "heartbeat"),
        ("worker/pool/deregister", "deregister"),
        ("worker/other", "other"),
        ("somewhere/else", "other"),
    ],
)
def test_request_paths_map_to_a_fixed_set_of_endpoint_labels(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint


async def test_claim_of_a_finished_command_is_already_terminal(admin: StandinAdmin, standin: StandinProcess) -> None:
    execution_id, event_id = await one_command(admin)
    client = client_for(standin.url)
    claimed = await client.claim(standin.url, event_id)
    assert claimed.command is not None
    command_id = claimed.command.command_id
    done = [
        BatchEvent(step="s", name="call.done", payload={"command_id": command_id, "result": {"status": "COMPLETED"}},
                   actionable=True),
        BatchEvent(step="s", name="command.completed", payload={"command_id": command_id}),
    ]  # fmt: skip
    await client.post_batch(standin.url, execution_id, done, deadline=time.monotonic() + 5)
    assert (await client.claim(standin.url, event_id)).status is ClaimStatus.TERMINAL
    await client.aclose()


async def test_a_lost_response_is_retried_under_the_same_idempotency_key(
    admin: StandinAdmin, standin: StandinProcess
) -> None:
    execution_id, event_id = await one_command(admin)
    client = client_for(standin.url, timeout=0.5)
    claimed = await client.claim(standin.url, event_id)
    assert claimed.command is not None
    await admin.inject_faults(drop_ratio=1.0, drop_hold_seconds=2, paths=["/api/events/batch"], limit=1)
    started = [BatchEvent(step="s", name="command.started", payload={"command_id": claimed.command.command_id})]
    await client.post_batch(standin.url, execution_id, started, deadline=time.monotonic() + 10)
    counters = await admin.counters()
    assert counters["events"].get("batch_duplicate") == 1
    assert len(await admin.events(execution_id, name="command.started")) == 1
    await client.aclose()


async def test_a_refused_batch_is_a_permanent_error(standin: StandinProcess) -> None:
    client = client_for(standin.url)
    too_many = [BatchEvent(step="s", name="step.enter", payload={}) for _ in range(300)]
    with pytest.raises(ControlPlaneError) as caught:
        await client.post_batch(standin.url, 1, too_many, deadline=time.monotonic() + 5)
    assert caught.value.transient is False
    assert caught.value.status == 422
    await client.aclose()


async def test_an_unreachable_server_is_retried_until_the_deadline(standin: StandinProcess) -> None:
    client = client_for(standin.url)
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ControlPlaneError, match="gave up after") as caught:
        await client.post_batch(dead, 1, [BatchEvent(step="s", name="step.enter")], deadline=time.monotonic() + 1)
    assert caught.value.transient
    assert 0.5 < time.monotonic() - started <= 1.5
    await client.aclose()


@contextlib.asynccontextmanager
async def http_peer(routes: list[Route]) -> AsyncIterator[str]:
    """A real HTTP server with the given routes on a free loopback port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_claim_refused_for_our_credentials_names_the_token() -> None:
    async def unauthorized(request: Request) -> JSONResponse:
        assert request.headers["authorization"] == "Bearer wrong-token"
        return JSONResponse({"detail": "Not authenticated"}, status_code=401)

    async with http_peer([Route("/api/commands/{event_id}/claim", unauthorized, methods=["POST"])]) as url:
        client = ControlPlaneClient(worker_id="w", server_url=url, metrics=WorkerMetrics(), token="wrong-token")
        outcome = await client.claim(url, 5)
        await client.aclose()
    assert outcome.status is ClaimStatus.REJECTED
    assert "NOETL_API_TOKEN" in outcome.detail


@contextlib.asynccontextmanager
async def server_without_batches() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An older NoETL server: ``POST /api/events`` only (a real HTTP server, not a mock of ours)."""
    received: list[dict[str, Any]] = []

    async def post_event(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"status": "ok", "event_id": len(received), "commands_generated": 0})

    async def no_batches(request: Request) -> JSONResponse:
        received.append({"name": "<batch probe>"})
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    routes = [
        Route("/api/events", post_event, methods=["POST"]),
        Route("/api/events/batch", no_batches, methods=["POST"]),
    ]
    async with http_peer(routes) as url:
        yield url, received


async def test_without_a_batch_route_events_go_one_by_one() -> None:
    async with server_without_batches() as (url, received):
        client = client_for(url)
        events = [
            BatchEvent(step="s", name="command.started", payload={"command_id": 5}),
            BatchEvent(step="s", name="step.enter", payload={"status": "started"}),
        ]
        await client.post_batch(url, 77, events, deadline=time.monotonic() + 5)
        await client.post_batch(url, 77, events[:1], deadline=time.monotonic() + 5)
        await client.aclose()
    names = [r["name"] for r in received]
    assert names == ["<batch probe>", "command.started", "step.enter", "command.started"]  # probed once only
    first = received[1]
    assert first["execution_id"] == "77"
    assert first["worker_id"] == "w-1"
    assert first["payload"] == {"command_id": 5}
    assert isinstance(first["event_id"], int)  # a snowflake the worker minted
    assert first["event_id"] < received[2]["event_id"]


async def test_a_result_already_encoded_is_stored_as_it_was_sent(admin: StandinAdmin, standin: StandinProcess) -> None:
    """A large result is encoded once, in a thread; the client splices those bytes into the request."""
    execution_id, _ = await one_command(admin)
    client = client_for(standin.url)
    data = {"text": 'é "quoted" \\ back', "rows": [1, None, 2.5]}
    try:
        stored = await client.put_result(standin.url, execution_id, 'step "s"', EncodedJSON(encode_json(data)))
        assert await client.resolve_result(standin.url, str(stored["ref"])) == data
    finally:
        await client.aclose()
