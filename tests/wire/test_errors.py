"""Error bodies: parse ``detail.code`` and ``Retry-After`` robustly."""

from __future__ import annotations

import json

import pytest
from noetl_wire.errors import ErrorBody, ErrorCode, ErrorDetail, error_body, parse_error_code, parse_retry_after

pytestmark = pytest.mark.unit


def test_codes_are_read_from_bytes_text_or_mappings() -> None:
    body = error_body(ErrorCode.ACTIVE_CLAIM, "held", worker_id="w-1")
    assert parse_error_code(json.dumps(body).encode()) is ErrorCode.ACTIVE_CLAIM
    assert parse_error_code(json.dumps(body)) is ErrorCode.ACTIVE_CLAIM
    assert parse_error_code(body) is ErrorCode.ACTIVE_CLAIM


def test_an_unknown_code_is_returned_as_text() -> None:
    assert parse_error_code({"detail": {"code": "brand_new"}}) == "brand_new"


@pytest.mark.parametrize("body", [None, b"", b"<html>", b"[]", {"detail": "command not found: 1"}, {"detail": {}}])
def test_bodies_without_a_code_give_none(body: object) -> None:
    assert parse_error_code(body) is None  # type: ignore[arg-type]


def test_error_body_models_cover_string_object_and_list_details() -> None:
    assert ErrorBody.model_validate({"detail": "Credential not found"}).detail == "Credential not found"
    detail = ErrorBody.model_validate(error_body("already_terminal", "done", status="COMPLETED")).detail
    assert isinstance(detail, ErrorDetail)
    assert detail.code == "already_terminal"
    assert detail.model_extra == {"status": "COMPLETED"}
    assert ErrorBody.model_validate({"detail": [{"loc": ["body"], "msg": "x"}]}).detail == [
        {"loc": ["body"], "msg": "x"}
    ]


@pytest.mark.parametrize(
    ("header", "expected"), [("2", 2.0), (" 0.5 ", 0.5), (None, None), ("soon", None), ("-1", None), ("nan", None)]
)
def test_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_default() -> None:
    assert parse_retry_after(None, default=1.0) == 1.0
