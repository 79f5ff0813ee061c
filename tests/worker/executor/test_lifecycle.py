"""Lifecycle batches are byte-for-byte what the NoETL server's own worker sends (the real wire capture)."""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any

import pytest
from noetl_wire.commands import ClaimedCommand
from noetl_wire.events import BatchEvent, BatchEventRequest, validate_reference_only_payload
from noetl_worker.control_plane.client import encode_batch
from noetl_worker.executor.command import identity_of
from noetl_worker.executor.lifecycle import failure_batch, started_batch, success_batch
from noetl_worker.executor.results import shape_result
from noetl_worker.jsontypes import JSONObject, JSONValue

from tests.wire.capture import _raw_records

pytestmark = pytest.mark.unit

WORKER_ID = "worker-0ba74cc1"  # the captured worker's id


def _commands() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(where, claim response, [batch request bodies for that command, in order])."""
    claims: list[tuple[str, dict[str, Any]]] = []
    batches: dict[int, list[dict[str, Any]]] = {}
    for where, record in _raw_records("*/worker_http.jsonl"):
        if record["path"].endswith("/claim") and record["status"] == 200:
            claims.append((where, record["resp_body"]))
        elif record["path"] == "/api/events/batch":
            # Parallel loops interleave batches; the first event names the command they belong to.
            command_id = record["req_body"]["events"][0]["payload"]["command_id"]
            batches.setdefault(command_id, []).append(record["req_body"])
    return [(where, claim, batches[claim["meta"]["command_id"]]) for where, claim in claims]


COMMANDS = _commands()


def _dump(events: list[JSONObject]) -> list[JSONObject]:
    """The events as the batch body the client sends carries them (its bytes, parsed)."""
    events_json: list[JSONObject] = json.loads(encode_batch(1, WORKER_ID, events))["events"]
    return events_json


async def _never_store(data: JSONValue) -> JSONObject:
    raise AssertionError("captured results are all within the inline budget")


@pytest.mark.parametrize(("where", "claim", "batches"), COMMANDS, ids=[c[0] for c in COMMANDS])
async def test_batches_match_the_capture(where: str, claim: dict[str, Any], batches: list[dict[str, Any]]) -> None:
    ident = identity_of(ClaimedCommand.model_validate(claim), WORKER_ID)
    first, terminal = batches[0], batches[-1]
    assert first["execution_id"] == str(ident.execution_id)
    assert _dump(started_batch(ident)) == first["events"]

    call = terminal["events"][0]
    response = call["payload"]["response"]
    if call["name"] == "call.done":
        shaped = await shape_result(response, "COMPLETED", _never_store)
        built = success_batch(ident, shaped.response, shaped.result)
    else:
        shaped = await shape_result(response, "FAILED", _never_store)
        built = failure_batch(ident, call["payload"]["error"], shaped.response, shaped.result)
    for event in [*started_batch(ident), *built]:
        validate_reference_only_payload(event["payload"])  # what the server enforces
    # Compare as JSON text so that an int/float or key-order slip would show.
    assert json.dumps(_dump(built), sort_keys=True) == json.dumps(terminal["events"], sort_keys=True)


def test_loop_metadata_is_echoed_on_call_and_step_exit_only() -> None:
    claim = {
        "event_id": 2, "execution_id": 1, "node_id": "each", "node_name": "each", "action": "python",
        "context": {},
        "meta": {
            "command_id": 3, "loop_event_id": "loop_1_9", "__loop_epoch_id": "loop_1_9", "loop_iteration_index": 4,
        },
    }  # fmt: skip
    ident = identity_of(ClaimedCommand.model_validate(claim), "w")
    events = _dump(success_batch(ident, {"sq": 16}, {"status": "COMPLETED", "context": {"sq": 16}}))
    expected_meta = {"command_id": 3, "__loop_epoch_id": "loop_1_9", "loop_iteration_index": 4}
    assert events[0]["meta"] == expected_meta
    assert events[0]["payload"]["loop_event_id"] == "loop_1_9"
    assert events[0]["payload"]["loop_iteration_index"] == 4
    assert events[1]["meta"] == expected_meta
    assert "meta" not in events[2]


def test_an_exit_case_sets_the_step_exit_status() -> None:
    claim = {
        "event_id": 2,
        "execution_id": 1,
        "node_id": "s",
        "node_name": "s",
        "action": "noop",
        "meta": {"command_id": 3},
    }
    ident = identity_of(ClaimedCommand.model_validate(claim), "w")
    events = _dump(success_batch(ident, None, {"status": "COMPLETED"}, exit_status="SKIPPED"))
    assert [e["name"] for e in events] == ["call.done", "step.exit", "command.completed"]
    assert events[1]["payload"]["status"] == "SKIPPED"


@pytest.mark.parametrize(
    "response",
    [
        {"ok": 1, "f": 0.1 + 0.2, "big": 2**64, "nan": float("nan"), "text": "é\u2028\x01", "t": (1, 2)},
        {"when": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), "d": decimal.Decimal("1.50")},
        {"nested": {1: "int key"}, "raw": b"bytes"},
    ],
    ids=["json", "dates-and-decimals", "odd-keys-and-bytes"],
)
def test_the_encoded_batch_is_what_the_models_write(response: dict[str, Any]) -> None:
    """The one-pass encoder writes the bytes pydantic writes for the same events, whatever a tool returned."""
    claim = {"event_id": 2, "execution_id": 1, "node_id": "s", "node_name": "s", "action": "noop"}
    claim["meta"] = {"command_id": 3}
    ident = identity_of(ClaimedCommand.model_validate(claim), WORKER_ID)
    for events in (started_batch(ident), success_batch(ident, response, {"status": "COMPLETED"})):
        models = BatchEventRequest(
            execution_id=1, worker_id=WORKER_ID, events=[BatchEvent.model_validate(e) for e in events]
        )
        assert encode_batch(1, WORKER_ID, events) == models.model_dump_json(exclude_none=True).encode()
