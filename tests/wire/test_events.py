"""Events: real batch bodies from the capture validate; both wire dialects parse; reference-only rules."""

from __future__ import annotations

from typing import Any

import pytest
from noetl_wire.events import (
    BatchEventRequest,
    BatchEventResponse,
    BatchStatusResponse,
    EventName,
    EventRequest,
    EventResponse,
    event_status,
    validate_reference_only_payload,
)
from pydantic import ValidationError

from tests.wire.capture import http_records

pytestmark = pytest.mark.unit

BATCHES = http_records("POST", "/api/events/batch")
SINGLES = http_records("POST", "/api/events")


def test_the_capture_has_batches_and_a_single_event() -> None:
    assert len(BATCHES) >= 40
    assert SINGLES


@pytest.mark.parametrize(("where", "record"), BATCHES, ids=[where for where, _ in BATCHES])
def test_a_real_batch_request_and_response_validate_and_round_trip(where: str, record: dict[str, Any]) -> None:
    body = record["req_body"]
    assert isinstance(body, dict)
    batch = BatchEventRequest.model_validate(body)
    assert batch.execution_id == int(body["execution_id"])
    for event in batch.events:
        validate_reference_only_payload(event.payload)
        if "command_id" in event.payload:
            assert type(event.payload["command_id"]) is int
    assert batch.model_dump(mode="json", exclude_unset=True) == body
    response = BatchEventResponse.model_validate(record["resp_body"])
    assert response.idempotency_key == record["req_headers"]["idempotency-key"]
    assert all(type(event_id) is int for event_id in response.event_ids)


def test_a_batch_execution_id_is_always_sent_as_a_string() -> None:
    batch = BatchEventRequest(execution_id=770563436223660379, events=[])
    assert batch.model_dump(mode="json")["execution_id"] == "770563436223660379"
    assert '"execution_id":"770563436223660379"' in batch.model_dump_json()


def test_the_real_single_event_validates() -> None:
    _, record = SINGLES[0]
    event = EventRequest.model_validate(record["req_body"])
    assert event.name == EventName.COMMAND_HEARTBEAT
    assert event.model_dump(mode="json", exclude_unset=True) == record["req_body"]
    assert EventResponse.model_validate(record["resp_body"]).commands_generated == 0


def test_the_ee_dialect_and_integer_execution_id_are_accepted() -> None:
    event = EventRequest.model_validate(
        {
            "execution_id": 770563436223660379,
            "event_type": "call.done",
            "node_name": "fetch",
            "context": {"command_id": "1"},
            "event_id": 5,
            "status": "COMPLETED",
            "created_at": "2026-06-01T00:00:00Z",
        }
    )
    assert (event.name, event.step, event.payload) == ("call.done", "fetch", {"command_id": "1"})
    assert event.actionable is True
    dumped = event.model_dump(mode="json")
    assert dumped["execution_id"] == "770563436223660379"
    assert "event_id" not in dumped


def test_batch_events_default_to_non_actionable() -> None:
    batch = BatchEventRequest.model_validate({"execution_id": "1", "events": [{"step": "s", "name": "call.done"}]})
    assert batch.events[0].actionable is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"step": "s", "name": "x"}, "execution_id"),
        ({"execution_id": "1", "name": "x"}, "step"),
        ({"execution_id": "1", "step": "s"}, "name"),
        ({"execution_id": "1", "step": "s", "name": "x", "payload": [1]}, "payload"),
        ({"execution_id": 1.5, "step": "s", "name": "x"}, "execution_id"),
    ],
)
def test_a_bad_single_event_names_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        EventRequest.model_validate(body)


def test_batch_status_parses() -> None:
    status = BatchStatusResponse.model_validate(
        {"request_id": "1", "execution_id": "2", "state": "completed", "status": "COMPLETED"}
    )
    assert status.state == "completed"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("call.error", "FAILED"),
        ("command.failed", "FAILED"),
        ("call.done", "COMPLETED"),
        ("step.exit", "COMPLETED"),
        ("command.completed", "COMPLETED"),
        ("command.started", "RUNNING"),
        ("step.enter", "RUNNING"),
    ],
)
def test_event_status_is_derived_from_the_name(name: str, status: str) -> None:
    assert event_status(name) == status


class TestReferenceOnlyPayload:
    def test_accepts_the_shapes_real_workers_send(self) -> None:
        validate_reference_only_payload({})
        validate_reference_only_payload({"result": {"status": "COMPLETED"}})
        validate_reference_only_payload(
            {"result": {"status": "ok", "reference": {"kind": "result_ref", "ref": "noetl://x"}, "command_id": 1}}
        )
        validate_reference_only_payload({"result": {"status": "ok", "context": {"deep": {"rows": [1]}}}})

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [
            ([], "payload must be an object"),
            ({"_internal_data": 1}, "'_internal_data'"),
            ({"result": [1]}, "payload.result must be an object"),
            ({"result": {"status": "ok", "data": [1]}}, "['data'] outside the reference-only set"),
            ({"result": {"status": "ok", "reference": "noetl://x"}}, "payload.result.reference must be an object"),
            ({"result": {"status": "ok", "context": 3}}, "payload.result.context must be an object"),
            ({"result": {"context": {"a": {"b": {"_internal_data": 1}}}}}, "payload.result.context.a.b must not"),
            ({"result": {"context": {"a": [{"_internal_data": 1}]}}}, r"payload.result.context.a[0] must not"),
        ],
    )
    def test_rejects_a_violation_with_a_message_saying_where(self, payload: object, fragment: str) -> None:
        with pytest.raises(ValueError) as caught:
            validate_reference_only_payload(payload)
        assert fragment in str(caught.value)

    def test_scans_no_deeper_than_the_server(self) -> None:
        deep: dict[str, object] = {"_internal_data": 1}
        for _ in range(9):
            deep = {"n": deep}
        validate_reference_only_payload({"result": {"context": deep}})
