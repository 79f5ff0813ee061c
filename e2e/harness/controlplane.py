"""The NoETL side of the e2e suite: submit a job of commands and read back what happened to each.

`ControlPlane` is the seam; `StandinControlPlane` speaks the stand-in's job API (``/_standin/jobs``),
which is what e2e/kind/run.sh deploys. A real NoETL server submits work as playbook executions
instead; a client for that can implement the same protocol without touching the tests.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from noetl_standin.jobs import JobCommandSpec, JobSpec, JobStatus, JobView
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CommandClaim", "ControlPlane", "ControlPlaneError", "StandinControlPlane", "finished", "sleep_job"]


class CommandClaim(BaseModel):
    """One command as the control plane records it: its status and the worker that claimed it."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(description="PENDING | CLAIMED | RUNNING | COMPLETED | FAILED | CANCELLED")
    worker_id: str | None = None
    attempt: int = Field(description="1 for the first claim; each takeover by another worker adds one.")


class ControlPlaneError(RuntimeError):
    """The control plane refused a request or is unreachable; the message says which and why."""


class ControlPlane(Protocol):
    """What the assertions need from the control plane."""

    def check(self) -> None:
        """Raise ControlPlaneError unless the control plane answers its health check."""

    def submit(self, job: JobSpec) -> int:
        """Submit a job; return its execution id."""

    def job(self, execution_id: int) -> JobView:
        """The job's progress: its status and each command's state."""

    def claims(self, execution_id: int) -> dict[str, CommandClaim]:
        """Who holds or finished each command of the job, by command name."""


class StandinControlPlane:
    """`ControlPlane` over the stand-in's HTTP API."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ControlPlaneError(f"{method} {self._http.base_url}{path}: {error!r}") from error
        if response.status_code >= 400:
            raise ControlPlaneError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def check(self) -> None:
        self._request("GET", "/api/health")

    def submit(self, job: JobSpec) -> int:
        created = self._request("POST", "/_standin/jobs", json=job.model_dump(mode="json"))
        return int(created["execution_id"])

    def job(self, execution_id: int) -> JobView:
        return JobView.model_validate(self._request("GET", f"/_standin/jobs/{execution_id}"))

    def claims(self, execution_id: int) -> dict[str, CommandClaim]:
        listed = self._request("GET", "/_standin/commands", params={"execution_id": execution_id})
        return {row["step_name"]: CommandClaim.model_validate(row) for row in listed["commands"]}


def sleep_job(commands: int, seconds: float, prefix: str = "sleep") -> JobSpec:
    """Independent `shell` commands that each take ``seconds``: lag that only more workers can drain."""
    return JobSpec(
        commands=[
            JobCommandSpec(name=f"{prefix}-{index:04d}", kind="shell", tool_config={"command": f"sleep {seconds}"})
            for index in range(commands)
        ],
        path="e2e/sleep",
    )


def finished(view: JobView) -> bool:
    """Whether the job has reached a terminal status."""
    return view.status in (JobStatus.COMPLETED, JobStatus.FAILED)
