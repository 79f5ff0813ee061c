"""``StandinAdmin``: a typed async client for the ``/_standin`` namespace (plus credential seeding).

async with StandinAdmin(url) as admin:
    job = await admin.submit_job([JobCommandSpec(name="a", kind="noop"), ...])
    done = await admin.wait_job(job.execution_id)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx

from noetl_standin.faults import FaultConfig
from noetl_standin.jobs import JobCommandSpec, JobSpec, JobStatus, JobView

__all__ = ["StandinAdmin", "StandinAdminError"]


class StandinAdminError(RuntimeError):
    """The stand-in answered an admin call with an error; ``status`` and ``detail`` say what."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"stand-in answered {status}: {detail}")
        self.status = status
        self.detail = detail


class StandinAdmin:
    """Drives a stand-in over HTTP. Use as an async context manager, or call ``aclose()``."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> StandinAdmin:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise StandinAdminError(response.status_code, detail)
        return response.json()

    # -- jobs ------------------------------------------------------------------------------------------
    async def submit_job(
        self, job: JobSpec | Sequence[JobCommandSpec | dict[str, Any]], *, workload: dict[str, Any] | None = None
    ) -> JobView:
        """Submit a job (a ``JobSpec`` or just its commands); returns its first view."""
        spec = (
            job
            if isinstance(job, JobSpec)
            else JobSpec.model_validate({"commands": list(job), "workload": workload or {}})
        )
        return JobView.model_validate(await self._call("POST", "/_standin/jobs", json=spec.model_dump(mode="json")))

    async def job(self, execution_id: int) -> JobView:
        return JobView.model_validate(await self._call("GET", f"/_standin/jobs/{execution_id}"))

    async def wait_job(self, execution_id: int, *, timeout: float = 30.0, poll: float = 0.02) -> JobView:  # noqa: ASYNC109
        """Poll until the job is completed or failed; ``TimeoutError`` names the commands still open."""
        deadline = time.monotonic() + timeout
        while True:
            view = await self.job(execution_id)
            if view.status is not JobStatus.RUNNING:
                return view
            if time.monotonic() >= deadline:
                pending = {name: c.state for name, c in view.commands.items() if c.state != "done"}
                raise TimeoutError(f"job {execution_id} still running after {timeout}s; open commands: {pending}")
            await asyncio.sleep(poll)

    # -- read-outs -------------------------------------------------------------------------------------
    async def events(
        self, execution_id: int | None = None, *, name: str | None = None, after: int | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {}
        if execution_id is not None:
            params["execution_id"] = execution_id
        if name is not None:
            params["name"] = name
        if after is not None:
            params["after"] = after
        return list((await self._call("GET", "/_standin/events", params=params))["events"])

    async def commands(self, execution_id: int | None = None) -> list[dict[str, Any]]:
        params = {"execution_id": execution_id} if execution_id is not None else {}
        return list((await self._call("GET", "/_standin/commands", params=params))["commands"])

    async def workers(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/_standin/workers"))["workers"])

    async def counters(self) -> dict[str, dict[str, int]]:
        return dict(await self._call("GET", "/_standin/counters"))

    async def reset_counters(self) -> None:
        await self._call("DELETE", "/_standin/counters")

    async def drain(self) -> None:
        """Wait until every accepted batch went through the engine."""
        await self._call("POST", "/_standin/drain")

    async def publish(self, event_id: int) -> bool:
        """Publish a command's pointer again (a deliberate duplicate)."""
        return bool((await self._call("POST", f"/_standin/commands/{event_id}/publish"))["published"])

    # -- faults ----------------------------------------------------------------------------------------
    async def inject_faults(self, config: FaultConfig | None = None, **fields: Any) -> FaultConfig:
        """Replace the active faults, e.g. ``inject_faults(saturation_ratio=0.3, paths=["/api/events"])``."""
        config = config or FaultConfig.model_validate(fields)
        return FaultConfig.model_validate(
            await self._call("PUT", "/_standin/faults", json=config.model_dump(mode="json"))
        )

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/_standin/faults")

    # -- NoETL API conveniences ------------------------------------------------------------------------
    async def seed_credential(
        self,
        name: str,
        data: dict[str, Any],
        *,
        type: str = "generic",
        **extra: Any,
    ) -> dict[str, Any]:
        return dict(
            await self._call("POST", "/api/credentials", json={"name": name, "type": type, "data": data, **extra})
        )

    async def health(self) -> bool:
        try:
            response = await self._http.get("/health")
        except httpx.HTTPError:
            return False
        return response.status_code == 200
