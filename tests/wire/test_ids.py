"""Snowflake id coercion: ints and digit strings are accepted, floats and booleans are refused."""

from __future__ import annotations

import pytest
from noetl_wire.ids import CommandIdValue, IdString, Snowflake
from pydantic import BaseModel, ValidationError

pytestmark = pytest.mark.unit


class Ids(BaseModel):
    plain: Snowflake = 0
    text: IdString = 0
    command: CommandIdValue = 0


def test_digit_strings_become_exact_ints() -> None:
    ids = Ids.model_validate({"plain": "770563436223660379", "text": "770563436223660379"})
    assert ids.plain == ids.text == 770563436223660379


def test_json_ints_above_2_pow_53_stay_exact() -> None:
    assert Ids.model_validate_json('{"plain": 9007199254740993}').plain == 9007199254740993


def test_id_strings_serialise_as_strings_and_plain_ids_as_ints() -> None:
    assert Ids(plain=5, text=7).model_dump(mode="json") == {"plain": 5, "text": "7", "command": 0}


@pytest.mark.parametrize("bad", [1.0, 7.705634362236604e17, True, "12a", "", None, [], -3, 2**63])
def test_non_integer_ids_are_refused_with_a_reason(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Ids.model_validate({"plain": bad})
    assert "plain" in str(caught.value)


def test_command_ids_accept_ints_digit_strings_and_opaque_strings() -> None:
    assert Ids.model_validate({"command": "42"}).command == 42
    assert Ids.model_validate({"command": "e:s:unknown"}).command == "e:s:unknown"
    with pytest.raises(ValidationError):
        Ids.model_validate({"command": None})
