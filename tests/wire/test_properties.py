"""Properties over arbitrary input: decoders fail only with their own clear errors, and ids round-trip."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from noetl_wire.events import validate_reference_only_payload
from noetl_wire.pointer import CommandPointer, PointerDecodeError, decode_pointer, encode_pointer
from noetl_wire.results import ResultUri, build_result_uri, parse_result_uri

pytestmark = pytest.mark.unit

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
ids = st.integers(min_value=0, max_value=2**63 - 1)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_pointer_decode_error(data: bytes) -> None:
    message = "command pointer (decoded)"
    try:
        decode_pointer(data)
    except PointerDecodeError as exc:  # any other exception fails the test
        message = str(exc)
    assert message.startswith("command pointer")


@given(
    st.dictionaries(st.sampled_from(["execution_id", "event_id", "command_id", "step", "server_url", "x"]), json_values)
)
def test_arbitrary_objects_decode_or_name_the_bad_field(data: dict[str, object]) -> None:
    field, message = None, ""
    try:
        decode_pointer(json.dumps(data).encode())
    except PointerDecodeError as exc:
        field, message = exc.field, str(exc)
    assert field is None or field in message


@given(ids, ids, st.one_of(ids, st.text(min_size=1, max_size=20)), st.text(max_size=30), st.text(max_size=30))
def test_pointers_round_trip_exactly(
    execution_id: int, event_id: int, command_id: int | str, step: str, url: str
) -> None:
    pointer = CommandPointer(
        execution_id=execution_id, event_id=event_id, command_id=command_id, step=step, server_url=url
    )
    decoded = decode_pointer(encode_pointer(pointer))
    expected = (
        int(command_id) if isinstance(command_id, str) and command_id.isascii() and command_id.isdigit() else command_id
    )
    assert (decoded.execution_id, decoded.event_id, decoded.command_id) == (execution_id, event_id, expected)
    assert (decoded.step, decoded.server_url) == (step, url)


@given(json_values)
def test_reference_only_validation_accepts_or_raises_value_error(payload: object) -> None:
    message = "accepted"
    try:
        validate_reference_only_payload(payload)
    except ValueError as exc:
        message = str(exc)
    assert message


@given(
    ids,
    st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s),
    st.text(alphabet=st.characters(blacklist_characters="/"), min_size=1, max_size=20),
)
def test_result_uris_round_trip(execution_id: int, name: str, result_id: str) -> None:
    assert parse_result_uri(build_result_uri(execution_id, name, result_id)) == ResultUri(execution_id, name, result_id)
