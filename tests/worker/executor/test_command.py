"""Assembling what a tool receives from a claimed command (and the keychain allow-list)."""

from __future__ import annotations

from typing import Any

import pytest
from noetl_wire.commands import ClaimedCommand
from noetl_worker.executor.cases import CaseError
from noetl_worker.executor.command import prepare_command, salvage_identity
from noetl_worker.executor.keychain import load_keychain
from noetl_worker.jsontypes import JSONValue
from noetl_worker.tools.base import ToolConfigError

pytestmark = pytest.mark.unit

STORE: dict[str, JSONValue] = {"noetl://execution/1/result/big/1": {"kind": "python", "code": "x", "input": {"v": 1}}}


async def resolve(ref: str) -> JSONValue:
    if ref not in STORE:
        raise LookupError(ref)
    return STORE[ref]


def claimed(context: dict[str, Any], action: str = "python") -> ClaimedCommand:
    return ClaimedCommand.model_validate(
        {"event_id": 2, "execution_id": 1, "node_id": "s", "node_name": "s", "action": action,
         "context": context, "meta": {"command_id": 3}}
    )  # fmt: skip


async def test_config_gets_the_kind_and_args_and_variables_get_action_and_node_name() -> None:
    prepared = await prepare_command(
        claimed({"tool_config": {"code": "x", "input": {"v": 1}}, "args": {"a": 1}, "render_context": {"w": 2}})
    , resolve)  # fmt: skip
    assert prepared.kind == "python"
    assert prepared.config == {"code": "x", "input": {"v": 1}, "kind": "python", "args": {"a": 1}}
    assert prepared.variables == {"w": 2, "action": "python", "node_name": "s"}


async def test_a_config_naming_its_kind_wins_and_a_list_config_becomes_tasks() -> None:
    assert (await prepare_command(claimed({"tool_config": {"kind": "http"}}), resolve)).kind == "http"
    prepared = await prepare_command(claimed({"tool_config": [{"kind": "noop"}]}, "task_sequence"), resolve)
    assert prepared.config == {"tasks": [{"kind": "noop"}], "kind": "task_sequence"}


async def test_externalised_fields_are_resolved() -> None:
    ref = {"kind": "result_ref", "ref": "noetl://execution/1/result/big/1"}
    prepared = await prepare_command(claimed({"tool_config": ref}), resolve)
    assert prepared.config["input"] == {"v": 1}
    missing = {"kind": "result_ref", "ref": "noetl://execution/1/result/gone/1"}
    with pytest.raises(ToolConfigError, match=r"context\.tool_config: externalised value .* not found"):
        await prepare_command(claimed({"tool_config": missing}), resolve)


async def test_bad_shapes_are_errors_naming_the_field() -> None:
    with pytest.raises(ToolConfigError, match=r"command has no tool kind"):
        await prepare_command(claimed({"tool_config": {}}, action=""), resolve)
    with pytest.raises(CaseError, match=r"cases\[0\] has no 'then'"):
        await prepare_command(claimed({"cases": [{"when": []}]}), resolve)


def test_keychain_lifts_only_listed_non_empty_variables() -> None:
    env = {"A": "1", "B": "", "C": "3"}
    assert load_keychain(["A", " B ", "", "MISSING", "C "], env) == {"A": "1", "C": "3"}


def test_a_claimed_command_that_does_not_decode_can_still_be_failed_by_its_ids() -> None:
    raw = {"execution_id": "12", "node_name": "s", "action": "python", "meta": {"command_id": 7}, "context": "??"}
    ident = salvage_identity(raw, "w")
    assert ident is not None
    assert (ident.execution_id, ident.step, ident.command_id, ident.kind) == (12, "s", 7, "python")
    assert salvage_identity({"node_name": "s", "meta": {"command_id": 7}}, "w") is None  # no execution id
    assert salvage_identity({"execution_id": 1, "node_name": "s"}, "w") is None  # no command id
    assert salvage_identity("not an object", "w") is None
