"""The NATS command pointer: decoding real pointers, and naming the bad field of a broken one."""

from __future__ import annotations

import json

import pytest
from noetl_wire.pointer import CommandPointer, PointerDecodeError, decode_pointer, encode_pointer

from tests.wire.capture import pointer_records

pytestmark = pytest.mark.unit

GOOD = {
    "execution_id": 770563436223660379,
    "event_id": 770563436374655327,
    "command_id": 770563436374655326,
    "step": "start",
    "server_url": "http://127.0.0.1:48083",
}


def _encode(data: object) -> bytes:
    return json.dumps(data).encode()


def test_every_captured_pointer_decodes_with_ids_as_exact_ints() -> None:
    records = pointer_records()
    assert records, "the wire capture has pointers"
    for where, record in records:
        pointer = decode_pointer(_encode(record["data"]))
        assert pointer.execution_id == record["data"]["execution_id"], where
        assert type(pointer.event_id) is int
        assert pointer.command_id == record["data"]["command_id"]


def test_ids_above_2_pow_53_survive_decode_and_encode_unchanged() -> None:
    big = 2**53 + 1
    pointer = decode_pointer(_encode({**GOOD, "event_id": big}))
    assert pointer.event_id == big
    assert json.loads(encode_pointer(pointer))["event_id"] == big
    assert b'"event_id":9007199254740993' in encode_pointer(pointer)


def test_unknown_fields_are_ignored() -> None:
    assert decode_pointer(_encode({**GOOD, "extra": [1, 2]})) == CommandPointer(**GOOD)


def test_a_digit_string_command_id_from_older_servers_becomes_an_int() -> None:
    assert decode_pointer(_encode({**GOOD, "command_id": "770563436374655326"})).command_id == 770563436374655326


def test_a_non_numeric_string_command_id_is_kept_opaque() -> None:
    assert decode_pointer(_encode({**GOOD, "command_id": "exec:step:unknown"})).command_id == "exec:step:unknown"


def test_accepts_bytes_bytearray_memoryview_and_str() -> None:
    raw = _encode(GOOD)
    for form in (raw, bytearray(raw), memoryview(raw), raw.decode()):
        assert decode_pointer(form).step == "start"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"\xff\xfe", None, "not valid JSON"),
        (b"[1, 2]", None, "must be a JSON object, got an array"),
        (_encode({k: v for k, v in GOOD.items() if k != "event_id"}), "event_id", "missing required field 'event_id'"),
        (
            _encode({**GOOD, "execution_id": "770563436223660379"}),
            "execution_id",
            "must be a JSON integer, got a string",
        ),
        (_encode({**GOOD, "execution_id": 1.5}), "execution_id", "got a float"),
        (_encode({**GOOD, "event_id": True}), "event_id", "got a boolean"),
        (_encode({**GOOD, "event_id": -1}), "event_id", "out of range"),
        (_encode({**GOOD, "command_id": None}), "command_id", "a JSON string or a JSON integer, got null"),
        (_encode({**GOOD, "command_id": False}), "command_id", "got a boolean"),
        (_encode({**GOOD, "command_id": [1]}), "command_id", "got an array"),
        (_encode({**GOOD, "command_id": {"id": 1}}), "command_id", "got an object"),
        (_encode({**GOOD, "command_id": ""}), "command_id", "empty string"),
        (_encode({**GOOD, "step": 3}), "step", "must be a JSON string"),
        (_encode({k: v for k, v in GOOD.items() if k != "server_url"}), "server_url", "missing required field"),
    ],
)
def test_a_broken_pointer_raises_an_error_naming_the_field(body: bytes, field: str | None, fragment: str) -> None:
    with pytest.raises(PointerDecodeError) as caught:
        decode_pointer(body)
    assert fragment in str(caught.value)
    assert caught.value.field == field


def test_pointer_decode_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="command pointer"):
        decode_pointer(b"null")


def test_encode_emits_the_five_fields_as_the_server_does() -> None:
    assert json.loads(encode_pointer(CommandPointer(**GOOD))) == GOOD
