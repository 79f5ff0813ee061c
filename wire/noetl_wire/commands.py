"""The claim call (``POST /api/commands/{event_id}/claim``) and the command a worker receives.

The claim response is the only way a worker learns what to run. ``context`` and ``meta`` keep unknown
keys: the engine adds metadata between releases and a worker must echo loop bookkeeping back.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from noetl_wire._base import OpenWireModel, WireModel
from noetl_wire.ids import CommandIdValue, IdString, Snowflake

__all__ = [
    "ClaimRequest",
    "ClaimedCommand",
    "CommandContext",
    "CommandMeta",
    "CommandView",
    "Locality",
    "is_result_ref",
]


class Locality(OpenWireModel):
    """Optional placement hints a worker sends with its claim (all keys optional, extra kept)."""

    node_id: str | None = None
    cluster_id: str | None = None
    region: str | None = None
    zone: str | None = None
    worker_pool: str | None = None
    runtime: str | None = None
    max_distance: int | None = None


class ClaimRequest(WireModel):
    """Body of the claim call."""

    worker_id: str = Field(min_length=1)
    locality: Locality | None = None


class CommandContext(OpenWireModel):
    """``context`` of a command.

    ``tool_config`` is the rendered tool object, or a list/``{"tasks": [...]}`` for ``task_sequence``.
    ``input`` is the step input merged with transition arguments (loop bookkeeping lives here too).
    Any of the four may instead be a result reference object (``kind: "result_ref"``) when the server
    externalised a large field; see ``is_result_ref``.
    """

    tool_config: dict[str, Any] | list[Any] | None = None
    input: dict[str, Any] | None = None
    render_context: dict[str, Any] | None = None
    spec: dict[str, Any] | None = None


class CommandMeta(OpenWireModel):
    """``meta`` of a command: identity, attempt counters and loop bookkeeping (extra keys kept)."""

    command_id: CommandIdValue
    step: str | None = None
    tool_kind: str | None = None
    actionable: bool | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    execution_id: IdString | None = None
    catalog_id: IdString | None = None
    triggered_by: str | None = None
    trigger_step: str | None = None
    batch_request_id: str | None = None
    loop_step: str | None = None
    # The server sends a string such as "loop_<eid>_<micros>"; kept opaque and echoed back unchanged.
    loop_event_id: str | int | None = None
    loop_epoch_id: str | int | None = Field(default=None, alias="__loop_epoch_id")
    loop_iteration_index: int | None = None


class CommandView(OpenWireModel):
    """``GET /api/commands/{event_id}``: the command without ``status``/``event_id`` (keychain-redacted)."""

    execution_id: Snowflake
    node_id: str
    node_name: str
    action: str
    context: CommandContext = Field(default_factory=CommandContext)
    meta: CommandMeta


class ClaimedCommand(CommandView):
    """The 200 body of a successful claim."""

    status: str = "ok"
    event_id: Snowflake

    @property
    def command_id(self) -> int | str:
        """The command id (from ``meta``), the key every lifecycle event must carry."""
        return self.meta.command_id


def is_result_ref(value: object) -> bool:
    """True when ``value`` is an externalised-field reference object rather than inline data."""
    return isinstance(value, dict) and value.get("kind") == "result_ref" and isinstance(value.get("ref"), str)
