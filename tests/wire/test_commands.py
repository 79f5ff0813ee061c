"""The claim call and the command: every real claim body from the capture validates and round-trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from noetl_wire.commands import ClaimedCommand, ClaimRequest, CommandView, is_result_ref
from pydantic import ValidationError

from tests.wire.capture import http_records

pytestmark = pytest.mark.unit

CLAIMS = http_records("POST", "/claim")


def test_the_capture_has_claims() -> None:
    assert len(CLAIMS) >= 20


@pytest.mark.parametrize(("where", "record"), CLAIMS, ids=[where for where, _ in CLAIMS])
def test_a_real_claim_request_and_response_validate(where: str, record: dict[str, Any]) -> None:
    request = ClaimRequest.model_validate(record["req_body"])
    assert request.worker_id.startswith("worker-")
    body = record["resp_body"]
    assert isinstance(body, dict)
    command = ClaimedCommand.model_validate(body)
    assert command.event_id == body["event_id"]
    assert type(command.execution_id) is int
    assert command.command_id == body["meta"]["command_id"]
    assert type(command.command_id) is int
    assert command.action == body["action"]
    # Every key the server sent survives a round-trip, including the meta it adds between releases.
    assert command.model_dump(mode="json", exclude_unset=True) == body


def test_meta_ids_the_server_sends_as_strings_are_ints_in_python_and_strings_on_the_wire() -> None:
    body = next(r["resp_body"] for _, r in CLAIMS if "execution_id" in r["resp_body"]["meta"])
    command = ClaimedCommand.model_validate(body)
    assert command.meta.execution_id == int(body["meta"]["execution_id"])
    assert command.meta.catalog_id == int(body["meta"]["catalog_id"])
    assert command.meta.attempt == 1
    assert command.meta.max_attempts == 3
    assert command.model_dump(mode="json")["meta"]["execution_id"] == body["meta"]["execution_id"]


def test_loop_bookkeeping_is_read_including_the_dunder_epoch_alias() -> None:
    body = next(r["resp_body"] for _, r in CLAIMS if "__loop_epoch_id" in r["resp_body"]["meta"])
    command = ClaimedCommand.model_validate(body)
    assert command.meta.loop_epoch_id == body["meta"]["__loop_epoch_id"]
    assert command.meta.loop_event_id == body["meta"]["loop_event_id"]
    assert command.meta.loop_iteration_index == body["meta"]["loop_iteration_index"]
    assert command.model_dump(mode="json")["meta"]["__loop_epoch_id"] == body["meta"]["__loop_epoch_id"]


def test_task_sequence_tool_config_may_be_a_list() -> None:
    base = CLAIMS[0][1]["resp_body"]
    body = {**base, "action": "task_sequence", "context": {**base["context"], "tool_config": [{"kind": "noop"}]}}
    assert ClaimedCommand.model_validate(body).context.tool_config == [{"kind": "noop"}]


def test_a_command_without_meta_command_id_is_refused_naming_the_field() -> None:
    base = CLAIMS[0][1]["resp_body"]
    with pytest.raises(ValidationError, match=r"meta\.command_id"):
        ClaimedCommand.model_validate({**base, "meta": {"step": "x"}})


def test_a_float_event_id_is_refused() -> None:
    base = CLAIMS[0][1]["resp_body"]
    with pytest.raises(ValidationError, match="float"):
        ClaimedCommand.model_validate({**base, "event_id": float(base["event_id"])})


def test_a_claim_request_needs_a_worker_id() -> None:
    with pytest.raises(ValidationError, match="worker_id"):
        ClaimRequest.model_validate({"locality": {}})
    with pytest.raises(ValidationError, match="worker_id"):
        ClaimRequest.model_validate({"worker_id": ""})


def test_claim_json_parsing_keeps_big_ids_exact() -> None:
    body = CLAIMS[0][1]["resp_body"]
    raw = json.dumps(body).replace(str(body["event_id"]), "9007199254740993")
    assert ClaimedCommand.model_validate_json(raw).event_id == 9007199254740993


def test_command_view_is_the_claim_body_without_status_and_event_id() -> None:
    body = {k: v for k, v in CLAIMS[0][1]["resp_body"].items() if k not in ("status", "event_id")}
    assert CommandView.model_validate(body).node_name == body["node_name"]


def test_result_refs_are_recognised() -> None:
    assert is_result_ref({"kind": "result_ref", "ref": "noetl://execution/1/result/a/b"})
    assert not is_result_ref({"kind": "result_ref"})
    assert not is_result_ref({"code": "x"})
