"""Worker registry (``/api/worker/pool/*``), ``/api/pool/status`` and the health routes."""

from __future__ import annotations

import time

from noetl_wire.workers import DeregisterRequest, HeartbeatRequest, WorkerRegistration
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from noetl_standin.api._http import HttpError, json_response, read_json, validate
from noetl_standin.core import ControlPlane
from noetl_standin.records import WorkerRecord

__all__ = ["routes"]


async def _register(plane: ControlPlane, registration: WorkerRegistration) -> WorkerRecord:
    now = time.time()
    return await plane.store.upsert_worker(
        WorkerRecord(
            name=registration.name,
            runtime_id=str(plane.store.new_id()),
            heartbeat=now,
            registered_at=now,
            runtime=registration.runtime,
            status=registration.status,
            capacity=registration.capacity,
            labels=registration.labels,
            pid=registration.pid,
            hostname=registration.hostname,
            meta=registration.meta,
        )
    )


async def register(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    worker = await _register(plane, validate(WorkerRegistration, await read_json(request)))
    return json_response(
        {
            "status": "ok",
            "name": worker.name,
            "runtime_id": worker.runtime_id,
            "kind": "worker_pool",
            "runtime": worker.runtime,
        }
    )


async def heartbeat(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    body = validate(HeartbeatRequest, await read_json(request))
    worker = await plane.store.touch_worker(body.name, time.time())
    if worker is not None:
        return json_response({"status": "ok", "name": worker.name, "runtime_id": worker.runtime_id})
    registration = body.registration
    if plane.settings.auto_recreate_runtime and registration is not None and registration.runtime:
        worker = await _register(plane, registration.model_copy(update={"name": body.name}))
        return json_response({"status": "recreated", "name": worker.name, "runtime_id": worker.runtime_id})
    raise HttpError(
        404,
        {"status": "unknown", "name": body.name},
        {"Retry-After": f"{plane.settings.heartbeat_retry_after_seconds:g}"},
    )


async def deregister(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    body = validate(DeregisterRequest, await read_json(request))
    worker = await plane.store.set_worker_status(body.name, "offline", time.time())
    return json_response({"status": "ok" if worker else "not_found", "name": body.name})


async def list_pools(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    now = time.time()
    runtime = request.query_params.get("runtime")
    status = request.query_params.get("status")
    rows = [
        w.to_json(now=now, offline_after=plane.settings.runtime_offline_seconds) for w in await plane.store.workers()
    ]
    rows = [
        r for r in rows if (runtime is None or r["runtime"] == runtime) and (status is None or r["status"] == status)
    ]
    return json_response({"items": rows, "count": len(rows)})


async def pool_status(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    pool_max = plane.settings.pool_max
    # The stand-in has no database pool; requests in flight are the closest honest stand-in for its load.
    in_use = min(plane.inflight, pool_max)
    return json_response(
        {
            "pool_min": min(2, pool_max),
            "pool_max": pool_max,
            "pool_size": max(in_use, min(2, pool_max)),
            "pool_available": pool_max - in_use,
            "requests_waiting": max(0, plane.inflight - pool_max),
            "utilization": round(in_use / pool_max, 4),
            "slots_available": pool_max - in_use,
            "status": "ok",
        }
    )


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/api/health", health, methods=["GET"]),
    Route("/api/pool/status", pool_status, methods=["GET"]),
    Route("/api/worker/pool/register", register, methods=["POST"]),
    Route("/api/worker/pool/heartbeat", heartbeat, methods=["POST"]),
    Route("/api/worker/pool/deregister", deregister, methods=["POST", "DELETE"]),
    Route("/api/worker/pools", list_pools, methods=["GET"]),
]
