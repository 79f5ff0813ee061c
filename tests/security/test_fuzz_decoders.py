"""Property tests: no NATS pointer and no claim-response body crashes or hangs the decoders.

Both decoders read bytes an attacker (or a broken server) controls. The contract: a valid body decodes,
anything else raises the decoder's own error with a message naming the problem — never another
exception, which the worker would not classify as poison, and never a long computation.

Fuzz budget: a fixed number of examples per property, derandomised, so CI runs the same inputs every
time; ``HYPOTHESIS_PROFILE=deep`` (see ``tests/security/fuzzing.py``) runs more for a local soak.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from noetl_wire.commands import ClaimedCommand
from noetl_wire.pointer import CommandPointer, PointerDecodeError, decode_pointer, encode_pointer
from pydantic import ValidationError

from tests.security.fuzzing import FUZZ, json_values

pytestmark = pytest.mark.unit

POINTER_FIELDS = ("execution_id", "event_id", "command_id", "step", "server_url")
MAX_SECONDS = 0.5

# Digit strings up to 5,000 digits: past int64 and past int()'s 4,300-digit conversion limit.
ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(alphabet="0123456789", min_size=1, max_size=5000),
    json_values(),
)
near_pointers = st.fixed_dictionaries(
    {},
    optional={
        "execution_id": ids,
        "event_id": ids,
        "command_id": ids,
        "step": st.one_of(st.text(max_size=20), json_values()),
        "server_url": st.one_of(st.text(max_size=20), json_values()),
        "extra": json_values(),
    },
)


def decode_or_explain(body: bytes) -> CommandPointer | None:
    started = time.monotonic()
    pointer: CommandPointer | None = None
    error: PointerDecodeError | None = None
    try:
        pointer = decode_pointer(body)
    except PointerDecodeError as exc:
        error = exc
    assert time.monotonic() - started < MAX_SECONDS
    if error is not None:
        assert str(error).startswith("command pointer"), error
        assert error.field is None or error.field in POINTER_FIELDS
    return pointer


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_a_pointer_decode_error(body: bytes) -> None:
    decode_or_explain(body)


@FUZZ
@given(json_values())
def test_any_json_document_decodes_or_raises_a_pointer_decode_error(document: Any) -> None:
    decode_or_explain(json.dumps(document).encode())


@FUZZ
@given(near_pointers)
@example({"execution_id": 1, "event_id": 2, "command_id": "0042", "step": "s", "server_url": "http://x"})
def test_almost_valid_pointers_decode_to_in_range_ids_or_name_the_field(document: dict[str, Any]) -> None:
    pointer = decode_or_explain(json.dumps(document).encode())
    if pointer is not None:
        assert 0 <= pointer.execution_id < 2**63
        assert 0 <= pointer.event_id < 2**63
        assert isinstance(pointer.command_id, str) or 0 <= pointer.command_id < 2**63
        assert decode_pointer(encode_pointer(pointer)) == pointer


def test_an_overlong_digit_string_command_id_is_a_pointer_decode_error() -> None:
    body = json.dumps({"execution_id": 1, "event_id": 2, "command_id": "1" * 5000, "step": "s", "server_url": "u"})
    with pytest.raises(PointerDecodeError, match="command_id"):
        decode_pointer(body.encode())


def test_a_digit_string_command_id_beyond_int64_is_out_of_range() -> None:
    body = json.dumps({"execution_id": 1, "event_id": 2, "command_id": str(2**63), "step": "s", "server_url": "u"})
    with pytest.raises(PointerDecodeError, match="out of range"):
        decode_pointer(body.encode())


def test_deeply_nested_json_is_a_decode_error_not_a_recursion_error() -> None:
    decode_or_explain(b"[" * 100_000 + b"]" * 100_000)
    decode_or_explain(b'{"step": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


# --------------------------------------------------------------------------- claim responses

claim_bodies = st.fixed_dictionaries(
    {},
    optional={
        "status": json_values(),
        "event_id": ids,
        "execution_id": ids,
        "node_id": st.one_of(st.text(max_size=10), json_values()),
        "node_name": st.one_of(st.text(max_size=10), json_values()),
        "action": st.one_of(st.sampled_from(["noop", "shell", "http"]), json_values()),
        "context": st.one_of(
            json_values(),
            st.fixed_dictionaries(
                {},
                optional={"tool_config": json_values(), "input": json_values(), "render_context": json_values()},
            ),
        ),
        "meta": st.one_of(json_values(), st.fixed_dictionaries({}, optional={"command_id": ids, "attempt": ids})),
    },
)


def decode_claim(body: bytes) -> ClaimedCommand | None:
    started = time.monotonic()
    command: ClaimedCommand | None = None
    error: ValidationError | None = None
    try:
        command = ClaimedCommand.model_validate_json(body)
    except ValidationError as exc:
        error = exc
    assert time.monotonic() - started < MAX_SECONDS
    if error is not None:
        # The worker turns these into "claimed command does not decode: <loc>: <msg>".
        assert error.errors(include_url=False)
    return command


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_claim_bodies_decode_or_raise_a_validation_error(body: bytes) -> None:
    decode_claim(body)


@FUZZ
@given(claim_bodies)
def test_almost_valid_claim_bodies_decode_or_raise_a_validation_error(document: dict[str, Any]) -> None:
    command = decode_claim(json.dumps(document).encode())
    if command is not None:
        assert command.command_id is not None
        assert command.node_name == document["node_name"]


def test_a_deeply_nested_tool_config_is_a_validation_error_not_a_recursion_error() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    body = (
        b'{"event_id": 1, "execution_id": 1, "node_id": "s", "node_name": "s", "action": "noop", '
        b'"meta": {"command_id": 1}, "context": {"tool_config": ' + nested + b"}}"
    )
    decode_claim(body)
