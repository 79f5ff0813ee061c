"""The result budget: inline up to 100 KiB, else the result store and a reference; scalar-only context."""

from __future__ import annotations

import base64

import pyarrow as pa
import pytest
from noetl_worker.executor.results import (
    ARROW_MEDIA_TYPE,
    INLINE_BUDGET_BYTES,
    ResultTooLargeError,
    encode_json,
    is_bulky,
    json_size,
    scalar_summary,
    shape_result,
    tabular_rows,
)
from noetl_worker.jsontypes import JSONObject, JSONValue

pytestmark = pytest.mark.unit


class Store:
    def __init__(self, fail: bool = False) -> None:
        self.stored: list[JSONValue] = []
        self.encoded: list[bytes | None] = []
        self.fail = fail

    async def __call__(self, data: JSONValue, encoded: bytes | None) -> JSONObject:
        if self.fail:
            raise OSError("result store unreachable")
        self.stored.append(data)
        self.encoded.append(encoded)
        return {
            "ref": "noetl://execution/1/result/s/9",
            "store": "disk",
            "scope": "execution",
            "bytes": 7,
            "sha256": "ab",
        }


def test_the_budget_is_100_kib() -> None:
    assert INLINE_BUDGET_BYTES == 102400


def test_context_keeps_only_scalar_top_level_fields() -> None:
    assert scalar_summary({"items": [1, 2]}) is None
    assert scalar_summary({"n": 1, "ok": True, "s": "x", "z": None, "items": [1]}) == {
        "n": 1, "ok": True, "s": "x", "z": None,
    }  # fmt: skip
    assert scalar_summary([1, 2]) is None
    # Keys the server's reference-only contract refuses inside result.context are left out.
    assert scalar_summary({"command_id": 1, "_internal_data": "x", "ok": 1}) == {"ok": 1}
    assert scalar_summary(5) is None


async def test_small_data_is_inline() -> None:
    store = Store()
    shaped = await shape_result({"value": 14, "rows": [[1]]}, "COMPLETED", store)
    assert shaped.response == {"value": 14, "rows": [[1]]}
    assert shaped.result == {"status": "COMPLETED", "context": {"value": 14}}
    assert store.stored == []


async def test_data_exactly_at_the_budget_stays_inline_and_one_byte_more_is_stored() -> None:
    store = Store()
    filler = "x" * (INLINE_BUDGET_BYTES - json_size({"a": ""}))
    at_budget = {"a": filler}
    assert json_size(at_budget) == INLINE_BUDGET_BYTES
    assert (await shape_result(at_budget, "COMPLETED", store)).response == at_budget
    over = {"a": filler + "x"}
    shaped = await shape_result(over, "COMPLETED", store)
    assert store.stored == [over]
    assert shaped.response == shaped.result["reference"]
    reference = shaped.result["reference"]
    assert isinstance(reference, dict)
    assert reference["kind"] == "result_ref"
    assert reference["ref"] == "noetl://execution/1/result/s/9"
    assert set(shaped.result) == {"status", "reference"}  # the 100 KiB scalar is too big for the context


async def test_json_made_before_shaping_is_measured_and_stored_as_is() -> None:
    store = Store()
    small = {"value": 14}
    assert (await shape_result(small, "COMPLETED", store, encoded=encode_json(small))).response == small
    assert store.stored == []
    big = {"text": "é" * INLINE_BUDGET_BYTES, "n": 1}
    encoded = encode_json(big)
    shaped = await shape_result(big, "COMPLETED", store, encoded=encoded)
    assert (store.stored, store.encoded) == ([big], [encoded])
    reference = shaped.result["reference"]
    assert isinstance(reference, dict)
    assert reference["meta"] == {**reference["meta"], "bytes": 7}  # the store's own count wins when it has one
    assert "context" not in shaped.result  # {"text": <over the budget>, "n": 1} does not fit


def test_json_for_the_store_is_compact_utf8_and_refuses_nan() -> None:
    assert encode_json({"a": ["é", 1]}) == '{"a":["é",1]}'.encode()
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        encode_json({"x": float("nan")})


async def test_a_result_too_large_to_store_fails_instead_of_being_truncated() -> None:
    with pytest.raises(ResultTooLargeError, match="exceeds the inline budget"):
        await shape_result({"rows": ["x" * INLINE_BUDGET_BYTES]}, "COMPLETED", Store(fail=True))


async def test_tabular_data_over_the_budget_is_stored_as_arrow_ipc() -> None:
    store = Store()
    rows = [{"id": i, "score": i / 2, "ok": i % 2 == 0, "name": f"row-{i}" * 20, "tags": [i]} for i in range(1000)]
    data = {"columns": ["id", "score", "ok", "name", "tags"], "rows": rows, "row_count": 1000}
    shaped = await shape_result(data, "COMPLETED", store)
    (envelope,) = store.stored
    assert isinstance(envelope, dict)
    assert envelope["media_type"] == ARROW_MEDIA_TYPE
    assert envelope["row_count"] == 1000
    table = pa.ipc.open_stream(base64.b64decode(str(envelope["data"]))).read_all()
    assert table.schema.types == [pa.int64(), pa.float64(), pa.bool_(), pa.string(), pa.string()]
    assert table.column("tags")[3].as_py() == "[3]"
    assert table.column("score")[3].as_py() == 1.5
    assert int(str(envelope["byte_length"])) < json_size(data)  # smaller than the JSON rows
    meta = shaped.result["reference"]["meta"]  # type: ignore[index,call-overload]
    assert meta["media_type"] == ARROW_MEDIA_TYPE
    assert meta["row_count"] == 1000
    assert meta["schema_digest"] == "arrow"
    assert shaped.result["context"] == {"row_count": 1000}


async def test_a_tool_table_is_encoded_as_is() -> None:
    store = Store()
    table = pa.table({"n": list(range(20000))})
    shaped = await shape_result(
        {"rows": [[n] for n in range(20000)], "columns": ["n"]}, "COMPLETED", store, table=table
    )
    (envelope,) = store.stored
    assert isinstance(envelope, dict)
    assert envelope["columns"] == ["n"]
    assert envelope["row_count"] == 20000
    assert shaped.result["reference"]["meta"]["row_count"] == 20000  # type: ignore[index,call-overload]


def test_tabular_detection_follows_the_seed() -> None:
    assert tabular_rows({"rows": [{"a": 1}]}) == (["a"], [{"a": 1}])
    assert tabular_rows({"data": {"columns": ["x"], "rows": [[1]]}}) == (["x"], [[1]])
    assert tabular_rows({"rows": []}) is None
    assert tabular_rows({"rows": [[1, 2]]}) is None  # positional rows need column names
    assert tabular_rows([1, 2]) is None


def test_bulky_results_are_recognised_cheaply() -> None:
    assert not is_bulky({"value": 14})
    assert not is_bulky([1, 2, 3])
    assert is_bulky({"rows": [{"i": i} for i in range(2000)]})
    assert is_bulky(list(range(5000)))
    assert is_bulky("x" * 200_000)
