"""Turning a claimed command into what a tool receives: its kind, config, variables and input.

The server sends the tool config already rendered (``context.tool_config``; python inputs inside
``tool_config.input``), the render context of the step (``context.render_context``) and the step input
with loop bookkeeping (``context.input``). Any of these may have been externalised by the server into a
result reference, which is resolved here. Assembly follows the seed (rust-worker-reference §5): ``kind`` is
the command's ``action`` unless the config names one, ``args`` is copied in when absent, and the variables
gain ``action`` and ``node_name``. A list config (``task_sequence``) is wrapped as ``{"tasks": [...]}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from noetl_wire.commands import ClaimedCommand, is_result_ref
from noetl_wire.ids import coerce_command_id, coerce_snowflake

from noetl_worker.executor.cases import Case, parse_cases
from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools.base import ToolConfigError

__all__ = ["CommandIdentity", "PreparedCommand", "identity_of", "prepare_command", "salvage_identity"]


@dataclass(frozen=True, slots=True)
class CommandIdentity:
    """Who the command is, as every lifecycle event must say it."""

    execution_id: int
    step: str
    command_id: int | str
    worker_id: str
    kind: str
    loop_event_id: JSONValue = None
    loop_iteration_index: JSONValue = None
    loop_meta: tuple[tuple[str, JSONValue], ...] = ()

    def event_meta(self) -> JSONObject:
        meta: JSONObject = {"command_id": self.command_id}
        meta.update(self.loop_meta)
        return meta


def identity_of(command: ClaimedCommand, worker_id: str) -> CommandIdentity:
    meta = command.meta  # its fields read directly: a model_dump of the whole meta was 5 µs of every command
    echoed = tuple(
        (key, value)
        for key, value in (("__loop_epoch_id", meta.loop_epoch_id), ("loop_iteration_index", meta.loop_iteration_index))
        if value is not None
    )
    return CommandIdentity(
        execution_id=command.execution_id,
        step=command.node_name or command.node_id,
        command_id=command.command_id,
        worker_id=worker_id,
        kind=command.action,
        loop_event_id=meta.loop_event_id,
        loop_iteration_index=meta.loop_iteration_index,
        loop_meta=echoed,
    )


def salvage_identity(raw: object, worker_id: str) -> CommandIdentity | None:
    """The identity of a claimed command whose body does not decode, if its ids can still be read.

    A claimed command is ours to finish: rather than leave it claimed forever, the worker reports
    ``call.error`` + ``command.failed`` for it, which needs only these fields.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("meta"), dict):
        return None
    try:
        execution_id = coerce_snowflake(raw.get("execution_id"))
        command_id = coerce_command_id(raw["meta"].get("command_id"))
    except ValueError:
        return None
    step = raw.get("node_name") or raw.get("node_id")
    if not isinstance(step, str) or not step:
        return None
    action = raw.get("action")
    kind = action if isinstance(action, str) and action else "unknown"
    return CommandIdentity(execution_id=execution_id, step=step, command_id=command_id, worker_id=worker_id, kind=kind)


@dataclass(frozen=True, slots=True)
class PreparedCommand:
    kind: str
    config: JSONObject
    variables: JSONObject
    input: JSONObject
    cases: list[Case]


Resolver = Callable[[str], Awaitable[JSONValue]]


async def _inline(value: Any, name: str, resolve: Resolver) -> Any:
    if is_result_ref(value):
        ref = str(value["ref"])
        try:
            return await resolve(ref)
        except LookupError:
            raise ToolConfigError(f"context.{name}: externalised value {ref} not found in the result store") from None
    return value


async def prepare_command(command: ClaimedCommand, resolve: Resolver) -> PreparedCommand:
    """Assemble the tool's view of ``command``. Raises ``ToolConfigError`` / ``CaseError`` naming the field."""
    context = command.context
    extra: dict[str, Any] = context.model_extra or {}
    raw_config = await _inline(context.tool_config, "tool_config", resolve)
    if raw_config is None:
        config: JSONObject = {}
    elif isinstance(raw_config, dict):
        config = dict(raw_config)
    elif isinstance(raw_config, list):
        config = {"tasks": raw_config}
    else:
        raise ToolConfigError(f"context.tool_config must be an object or a list, got {type(raw_config).__name__}")
    kind = config.get("kind") if isinstance(config.get("kind"), str) and config.get("kind") else command.action
    if not isinstance(kind, str) or not kind:
        raise ToolConfigError("command has no tool kind (action is empty and tool_config.kind is missing)")
    config["kind"] = kind
    if "args" not in config and extra.get("args") is not None:
        config["args"] = extra["args"]

    raw_variables = await _inline(context.render_context, "render_context", resolve)
    variables: JSONObject = dict(raw_variables) if isinstance(raw_variables, dict) else {}
    variables.setdefault("action", command.action)
    variables.setdefault("node_name", command.node_name)

    raw_input = await _inline(context.input, "input", resolve)
    step_input: JSONObject = dict(raw_input) if isinstance(raw_input, dict) else {}
    return PreparedCommand(kind, config, variables, step_input, parse_cases(extra.get("cases")))
