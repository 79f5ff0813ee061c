"""``duckdb``: real DuckDB databases (in memory and on disk), in a worker thread."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from noetl_worker.tools.base import ToolConfigError, ToolStatus
from noetl_worker.tools.duckdb import DuckDBTool, DuckLakeTool

from .conftest import MakeContext

pytestmark = pytest.mark.integration


async def test_positional_and_named_params(ctx: MakeContext) -> None:
    positional = await DuckDBTool().run({"query": "SELECT ?::INT + ? AS total", "params": [40, 2]}, ctx())
    assert positional.data == {"columns": ["total"], "rows": [{"total": 42}], "row_count": 1}
    named = await DuckDBTool().run({"query": "SELECT $name AS n", "params": {"name": "x"}}, ctx())
    assert named.data["rows"] == [{"n": "x"}]


async def test_a_script_returns_its_last_statement(ctx: MakeContext) -> None:
    script = """
        CREATE TABLE t (id INTEGER, label VARCHAR);  -- a comment; with a semicolon
        INSERT INTO t VALUES (1, 'a;b'), (2, 'c');
        SELECT * FROM t WHERE id >= ? ORDER BY id;
    """
    result = await DuckDBTool().run({"query": script, "params": [1]}, ctx())
    assert result.ok, result.error
    assert result.data == {"columns": ["id", "label"], "rows": [{"id": 1, "label": "a;b"}, {"id": 2, "label": "c"}],
                           "row_count": 2}  # fmt: skip
    dml = await DuckDBTool().run({"query": "CREATE TABLE t (v INT); INSERT INTO t VALUES (1), (2), (3)"}, ctx())
    assert dml.data == {"affected_rows": 3}


async def test_every_call_gets_a_fresh_memory_database(ctx: MakeContext) -> None:
    await DuckDBTool().run({"query": "CREATE TABLE only_here (v INT)"}, ctx())
    result = await DuckDBTool().run({"query": "SELECT * FROM only_here"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert (result.error or "").startswith("CatalogException: ")


async def test_a_database_file_persists_between_calls(ctx: MakeContext, tmp_path: Path) -> None:
    path = str(tmp_path / "state.duckdb")
    await DuckDBTool().run({"database": path, "query": "CREATE TABLE kept AS SELECT 7 AS v"}, ctx())
    result = await DuckDBTool().run({"db_path": path, "query": "SELECT v FROM kept", "as_objects": False}, ctx())
    assert result.data["rows"] == [[7]]


async def test_types_map_to_json_without_silent_nulls(ctx: MakeContext) -> None:
    query = """SELECT 170141183460469231731687303715884105727::HUGEINT AS h, 1.10::DECIMAL(10, 2) AS d,
                      '2fc12889-8a92-4316-a602-2a0d3c9ada25'::UUID AS u, INTERVAL 1 DAY + INTERVAL 2 HOUR AS iv,
                      'ab'::BLOB AS b, MAP([1], ['x']) AS m, {'k': 1} AS s, [1, 2] AS l, DATE '2026-01-01' AS dt,
                      TIMESTAMP '2026-01-01 01:02:03' AS ts, NULL::INT AS n"""
    result = await DuckDBTool().run({"query": query}, ctx())
    assert result.data["rows"] == [{
        "h": 170141183460469231731687303715884105727, "d": "1.10", "u": "2fc12889-8a92-4316-a602-2a0d3c9ada25",
        "iv": "P1DT7200S", "b": base64.b64encode(b"ab").decode(), "m": {"1": "x"}, "s": {"k": 1}, "l": [1, 2],
        "dt": "2026-01-01", "ts": "2026-01-01T01:02:03", "n": None,
    }]  # fmt: skip


async def test_large_selects_come_back_as_an_arrow_table(ctx: MakeContext) -> None:
    result = await DuckDBTool().run({"query": "SELECT range AS i FROM range(5000)", "arrow_min_rows": 100}, ctx())
    assert result.data == {"columns": ["i"], "row_count": 5000, "format": "arrow"}
    assert isinstance(result.table, pa.Table)
    assert result.table.num_rows == 5000
    assert result.table.column("i").to_pylist()[:3] == [0, 1, 2]


async def test_templated_values_in_params_can_never_become_sql(ctx: MakeContext) -> None:
    hostile = "x'); DROP TABLE t; --"
    script = "CREATE TABLE t (name VARCHAR); INSERT INTO t VALUES ('keep'); INSERT INTO t VALUES (?) RETURNING name"
    result = await DuckDBTool().run(
        {"query": script, "params": ["{{ workload.name }}"]}, ctx(variables={"workload": {"name": hostile}})
    )
    assert result.data["rows"] == [{"name": hostile}]


async def test_a_long_query_is_interrupted_at_the_timeout(ctx: MakeContext) -> None:
    started = time.monotonic()
    query = "SELECT count(*) FROM range(100000000000) a"
    result = await DuckDBTool().run({"query": query, "timeout_seconds": 0.5}, ctx())
    assert result.status is ToolStatus.TIMEOUT
    assert time.monotonic() - started < 10


async def test_ducklake_is_the_same_tool(ctx: MakeContext) -> None:
    result = await DuckLakeTool().run({"command": "SELECT 1 AS one"}, ctx())
    assert DuckLakeTool.kind == "ducklake"
    assert result.data["rows"] == [{"one": 1}]


async def test_sql_errors_are_error_results(ctx: MakeContext) -> None:
    result = await DuckDBTool().run({"query": "SELEC 1"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert (result.error or "").startswith("ParserException: ")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: duckdb.query: required"),
        ({"query": "-- nothing"}, "Configuration error: duckdb.query: the query contains no SQL statement"),
        ({"query": "select 1", "params": "x"}, "Configuration error: duckdb.params: expected a list"),
        ({"query": "select 1", "arrow_min_rows": -1}, "Configuration error: duckdb.arrow_min_rows: must be >= 0"),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await DuckDBTool().run(config, ctx())
    assert str(err.value).startswith(message)


class ObservedOpener:
    """``duckdb.connect`` as the tool calls it, noting the thread that opens and closes each connection."""

    def __init__(self, release: threading.Event | None = None) -> None:
        self.release = release
        self.opened: list[int] = []
        self.closed: list[int] = []

    @contextlib.contextmanager
    def __call__(self, path: str, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.release is not None:
            assert self.release.wait(30), "the test never released the open"
        self.opened.append(threading.get_ident())
        try:
            with duckdb.connect(path, read_only=read_only) as connection:
                yield connection
        finally:
            self.closed.append(threading.get_ident())


@pytest.mark.parametrize(
    ("config", "status"),
    [
        ({"query": "SELECT 1 AS one"}, ToolStatus.SUCCESS),
        ({"query": "SELEC 1"}, ToolStatus.ERROR),
        ({"query": "SELECT count(*) FROM range(100000000000) a", "timeout_seconds": 0.2}, ToolStatus.TIMEOUT),
    ],
)
async def test_the_database_is_opened_and_closed_off_the_event_loop(
    ctx: MakeContext, config: dict[str, object], status: ToolStatus
) -> None:
    """Opening a database takes 10-30 ms: on the event loop that would stall every other slot."""
    opener = ObservedOpener()
    result = await DuckDBTool(open_database=opener).run(config, ctx())
    assert result.status is status
    assert len(opener.opened) == len(opener.closed) == 1
    assert threading.get_ident() not in opener.opened + opener.closed


async def test_a_timeout_while_the_database_opens_keeps_the_query_from_running(
    ctx: MakeContext, tmp_path: Path
) -> None:
    path = str(tmp_path / "late.duckdb")
    release = threading.Event()
    opener = ObservedOpener(release)
    run = asyncio.ensure_future(
        DuckDBTool(open_database=opener).run(
            {"db_path": path, "query": "CREATE TABLE t AS SELECT 1", "timeout": 0.05}, ctx()
        )
    )
    await asyncio.sleep(2)  # the tool's 0.05 s timer fires long before this one
    assert not run.done(), "the tool returned without waiting for its thread"
    release.set()
    result = await run
    assert result.status is ToolStatus.TIMEOUT
    assert len(opener.closed) == 1
    with duckdb.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)


@pytest.mark.parametrize("what", ["a directory", "a text file"])
async def test_a_database_that_cannot_be_opened_is_an_error_naming_the_path(
    ctx: MakeContext, tmp_path: Path, what: str
) -> None:
    path = tmp_path / "db"
    if what == "a directory":
        path.mkdir()
    else:
        path.write_text("not a database")
    result = await DuckDBTool().run({"db_path": str(path), "query": "SELECT 1"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert (result.error or "").startswith(f"cannot open db_path {str(path)!r}: ")
