"""``duckdb`` (and ``ducklake``): run SQL with DuckDB in a worker thread.

Config keys: ``query`` (aliases ``command``, ``sql``; required), ``params`` (list for ``?``/``$1``, or
object for ``$name``; bound to the last statement), ``db_path`` (alias ``database``: a database file;
absent → a fresh in-memory database per call), ``read_only``, ``as_objects`` (true), ``timeout_seconds``
(alias ``timeout``; default and cap: the command's deadline — the query is interrupted),
``arrow_min_rows`` (1000: a SELECT returning more rows is handed over as an Arrow table in
``ToolResult.table`` instead of JSON rows).

Everything that touches DuckDB — opening the database, the query, closing it — runs in the worker thread:
opening alone takes 10-30 ms, which on the event loop would stall every other slot.

Scripts are split with DuckDB's own parser; all statements but the last run first, without ``params``.
Result: ``{columns, rows, row_count}``, or for large SELECTs ``{columns, row_count, format: "arrow"}`` plus
the table; statements that only report a count give ``{affected_rows}``. Errors are status error with
``error`` = ``<DuckDB error class>: <message>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import duckdb

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import ConfigReader, render_config
from noetl_worker.tools._values import to_json_value
from noetl_worker.tools.base import ToolContext, ToolResult, ToolStatus

__all__ = ["DuckDBTool", "DuckLakeTool"]

DEFAULT_ARROW_MIN_ROWS = 1000


class _Interrupted(Exception):
    """The query was interrupted because its time ran out."""


class _CannotOpen(Exception):
    """The database could not be opened; ``cause`` is DuckDB's error."""

    def __init__(self, cause: duckdb.Error) -> None:
        super().__init__(str(cause))
        self.cause = cause


OpenDatabase = Callable[..., AbstractContextManager[duckdb.DuckDBPyConnection]]
"""``(path, *, read_only) -> connection``, closed when its ``with`` block ends (``duckdb.connect``)."""


class _Interrupter:
    """Lets the event loop interrupt a query whose connection lives only in the worker thread.

    Opening takes 10-30 ms and closing a few, so both happen in the thread; the loop may time out before
    the connection even exists, which is why an interrupt is remembered and refuses a late ``attach``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._interrupted = False

    def attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            if self._interrupted:
                raise _Interrupted
            self._connection = connection

    def detach(self) -> None:
        # Before the close, so an interrupt never reaches a connection that is going away.
        with self._lock:
            self._connection = None

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            if self._connection is not None:
                self._connection.interrupt()


def _params(cfg: ConfigReader) -> list[Any] | dict[str, Any] | None:
    raw = cfg.raw("params")
    if raw is None:
        return None
    if isinstance(raw, list | dict):
        return raw
    raise cfg.error("params", "expected a list (for ? / $1) or an object (for $name)")


def _session(
    open_database: OpenDatabase,
    path: str,
    interrupter: _Interrupter,
    work: Callable[[duckdb.DuckDBPyConnection], tuple[JSONObject, Any]],
    *,
    read_only: bool,
) -> tuple[JSONObject, Any]:
    """One call in the worker thread: open the database, run ``work`` on it, close it."""
    with contextlib.ExitStack() as stack:
        try:
            connection = stack.enter_context(open_database(path, read_only=read_only))
        except duckdb.Error as exc:
            raise _CannotOpen(exc) from exc
        interrupter.attach(connection)
        try:
            return work(connection)
        finally:
            interrupter.detach()


def _run(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    params: list[Any] | dict[str, Any] | None,
    as_objects: bool,
    arrow_min_rows: int,
) -> tuple[JSONObject, Any]:
    statements = connection.extract_statements(query)
    if not statements:
        raise ValueError("the query contains no SQL statement")
    for statement in statements[:-1]:
        connection.execute(statement.query).fetchall()
    last = statements[-1]
    cursor = connection.execute(last.query, params) if params else connection.execute(last.query)
    description: Any = cursor.description  # None for statements without a result
    if description is None:
        return {"affected_rows": 0}, None
    columns: list[JSONValue] = [str(column[0]) for column in description]
    rows = cursor.fetchmany(arrow_min_rows + 1)
    is_select = last.type == duckdb.StatementType.SELECT
    if columns == ["Count"] and not is_select:
        return {"affected_rows": int(rows[0][0]) if rows else 0}, None
    if len(rows) > arrow_min_rows and is_select:
        # A SELECT has no side effects, so running it again straight into Arrow is safe (and columnar).
        cursor.abort()  # drop the partly fetched result before the connection runs anything else
        relation = connection.sql(last.query, params=params) if params else connection.sql(last.query)
        table: Any = relation.to_arrow_table()
        return {"columns": columns, "row_count": table.num_rows, "format": "arrow"}, table
    rows.extend(cursor.fetchall())
    out: list[JSONValue]
    if as_objects:
        names = [str(name) for name in columns]
        out = [{name: to_json_value(value) for name, value in zip(names, row, strict=True)} for row in rows]
    else:
        out = [[to_json_value(value) for value in row] for row in rows]
    return {"columns": list(columns), "rows": out, "row_count": len(out)}, None


class DuckDBTool:
    """The tool; ``open_database`` is how a database is opened (``duckdb.connect``; tests observe it)."""

    kind: ClassVar[str] = "duckdb"

    def __init__(self, open_database: OpenDatabase = duckdb.connect) -> None:
        self._open_database = open_database

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        query_key = cfg.first_key("query", "command", "sql") or "query"
        query = cfg.text(query_key)
        params = _params(cfg)
        path_key = cfg.first_key("db_path", "database") or "db_path"
        path = cfg.text(path_key, ":memory:")
        read_only = cfg.boolean("read_only", False) and path != ":memory:"
        as_objects = cfg.boolean("as_objects", True)
        arrow_min_rows = cfg.integer("arrow_min_rows", DEFAULT_ARROW_MIN_ROWS, minimum=0)
        timeout_key = cfg.first_key("timeout_seconds", "timeout") or "timeout_seconds"
        timeout = min(cfg.number(timeout_key, context.remaining(), minimum=0), context.remaining())

        interrupter = _Interrupter()
        query_work = functools.partial(_run, query=query, params=params, as_objects=as_objects,
                                       arrow_min_rows=arrow_min_rows)  # fmt: skip
        work = asyncio.ensure_future(
            asyncio.to_thread(_session, self._open_database, path, interrupter, query_work, read_only=read_only)
        )
        try:
            data, table = await asyncio.wait_for(asyncio.shield(work), timeout=timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            interrupter.interrupt()  # stops the query in its thread; then wait for the thread to let go
            with contextlib.suppress(Exception):
                await work
            if isinstance(exc, asyncio.CancelledError):
                raise
            return ToolResult(
                ToolStatus.TIMEOUT, error=f"Execution timed out after {timeout:g} seconds", duration_ms=_ms(started)
            )
        except _CannotOpen as exc:
            return _failure(exc.cause, started, prefix=f"cannot open {path_key} {path!r}: ")
        except duckdb.Error as exc:
            return _failure(exc, started)
        except ValueError as exc:
            raise cfg.error(query_key, str(exc)) from None
        return ToolResult.success(data, table=table, duration_ms=_ms(started))


class DuckLakeTool(DuckDBTool):
    """``ducklake`` is the same tool under another name, as in the reference."""

    kind: ClassVar[str] = "ducklake"


def _failure(exc: duckdb.Error, started: float, prefix: str = "") -> ToolResult:
    message = f"{prefix}{type(exc).__name__}: {exc}"
    return ToolResult.failure(
        message, data={"status": "error", "error": message, "error_type": type(exc).__name__}, duration_ms=_ms(started)
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
