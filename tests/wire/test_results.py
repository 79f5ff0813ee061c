"""Result store bodies and ``noetl://`` reference URIs."""

from __future__ import annotations

import pytest
from noetl_wire.results import (
    ResultPutRequest,
    ResultPutResponse,
    ResultReference,
    ResultUri,
    build_result_uri,
    parse_result_uri,
)
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def test_uri_round_trip() -> None:
    uri = build_result_uri(770563436223660379, "fetch", "abc123")
    assert uri == "noetl://execution/770563436223660379/result/fetch/abc123"
    assert parse_result_uri(uri) == ResultUri(770563436223660379, "fetch", "abc123")
    assert str(parse_result_uri(uri)) == uri


def test_a_name_may_contain_slashes_the_id_is_the_last_segment() -> None:
    assert parse_result_uri("noetl://execution/1/result/a/b/c").name == "a/b"


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("s3://bucket/x", "must start with"),
        ("noetl://execution/1/other/a/b", "must look like"),
        ("noetl://execution/x1/result/a/b", "execution id"),
        ("noetl://execution/1/result/only", "must end with"),
        ("noetl://execution/1/result/a/", "must end with"),
    ],
)
def test_bad_uris_are_rejected_with_a_reason(uri: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_result_uri(uri)


def test_build_rejects_ids_with_slashes() -> None:
    with pytest.raises(ValueError, match="without '/'"):
        build_result_uri(1, "n", "a/b")


def test_put_request_requires_data_but_allows_null() -> None:
    assert ResultPutRequest.model_validate({"name": "n", "data": None}).scope == "execution"
    with pytest.raises(ValidationError, match="data"):
        ResultPutRequest.model_validate({"name": "n"})
    with pytest.raises(ValidationError, match="scope"):
        ResultPutRequest.model_validate({"name": "n", "data": 1, "scope": "galaxy"})


def test_rust_worker_shaped_put_response_and_reference() -> None:
    response = ResultPutResponse.model_validate(
        {"ref": "noetl://execution/1/result/a/b", "store": "disk", "scope": "execution"}
    )
    assert response.bytes == 0
    reference = ResultReference.model_validate(
        {"kind": "result_ref", "ref": response.ref, "meta": {"bytes": 3}, "ipc": {"kind": "arrow_ipc"}}
    )
    assert reference.model_dump()["ipc"] == {"kind": "arrow_ipc"}
