"""``postgres``: run SQL with asyncpg over a pool per connection target.

Config keys: ``query`` (aliases ``command``, ``sql``; required), ``params`` (list, bound as ``$1..$n`` — the
safe way to pass values), connection by ``connection_string`` (alias ``dsn``) or ``host`` (localhost),
``port`` (5432), ``database`` (postgres), ``user`` (postgres), ``password`` (a keychain alias name, else the
literal), ``schema`` (search path; one name or a list, sent as a quoted setting, never spliced into SQL),
``timeout_seconds`` (aliases ``timeout``, ``statement_timeout``: server-side ``statement_timeout`` and the
client deadline; default and cap: the command's deadline), ``as_objects`` (true: rows as objects),
``ssl`` (asyncpg ``sslmode`` name, e.g. ``require``), ``pool_max_size`` (10).

Scripts: the SQL is split on top-level ``;`` (quotes, dollar quotes and comments respected); all statements
but the last run as one simple-protocol batch, the last is prepared with ``params``, so its rows (or its
affected count) are the result.

Result: ``{columns, rows, row_count}`` when the last statement returns rows (SELECT, WITH, RETURNING,
SHOW, …), else ``{affected_rows, command}``. A database error is status error with ``error`` =
``<severity>: <message> (SQLSTATE <code>)[ | DETAIL: …][ | HINT: …]`` and the fields in ``data``; a
statement timeout is status ``timeout``. Connection failures raise ``Database error: …`` (no password).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import decimal
import hashlib
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import asyncpg

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import ConfigReader, render_config
from noetl_worker.tools._sql import quote_identifier, split_statements
from noetl_worker.tools._values import to_json_value
from noetl_worker.tools.base import ToolContext, ToolError, ToolResult, ToolStatus

if TYPE_CHECKING:
    from asyncpg.pool import Pool

__all__ = ["PostgresTool", "postgres_error_text"]

_QUERY_CANCELED = "57014"
_SSL_MODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})


class _Target:
    """Where to connect; ``key`` identifies a pool (the password enters it only as a digest)."""

    def __init__(self, cfg: ConfigReader, context: ToolContext) -> None:
        self.dsn: str | None = cfg.text(cfg.first_key("connection_string", "dsn") or "connection_string", None)
        self.host = cfg.text("host", "localhost")
        self.port = cfg.integer("port", 5432, minimum=1)
        self.database = cfg.text("database", "postgres")
        self.user = cfg.text("user", "postgres")
        password = cfg.text("password", None, allow_empty=True)
        self.password = context.secrets.get(password, password) if password is not None else None
        self.ssl = cfg.text("ssl", None)
        if self.ssl is not None and self.ssl not in _SSL_MODES:
            raise cfg.error("ssl", f"expected one of {', '.join(sorted(_SSL_MODES))}")
        self.search_path = _search_path(cfg)
        self.max_size = cfg.integer("pool_max_size", 10, minimum=1)
        secret = hashlib.sha256(f"{self.dsn}|{self.password}".encode()).hexdigest()
        self.key = (self.host, self.port, self.database, self.user, self.ssl, self.search_path, self.max_size, secret)

    def describe(self) -> str:
        if self.dsn is not None:
            return "the configured connection_string"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    async def create_pool(self) -> Pool:
        settings = {"search_path": self.search_path} if self.search_path else {}
        kwargs: dict[str, Any] = {"min_size": 0, "max_size": self.max_size, "server_settings": settings}
        kwargs["init"] = _init_connection
        if self.ssl is not None:
            kwargs["ssl"] = self.ssl
        if self.dsn is not None:
            return await asyncpg.create_pool(dsn=self.dsn, **kwargs)
        return await asyncpg.create_pool(
            host=self.host, port=self.port, database=self.database, user=self.user, password=self.password, **kwargs
        )


def _search_path(cfg: ConfigReader) -> str | None:
    raw = cfg.raw("schema")
    if raw is None:
        return None
    names = raw if isinstance(raw, list) else [raw]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise cfg.error("schema", "expected a schema name or a list of schema names")
    # A quoted identifier list as the setting's value: a hostile name stays one (odd) schema name.
    return ", ".join(quote_identifier(str(n)) for n in names)


async def _init_connection(connection: Any) -> None:
    for name in ("json", "jsonb"):
        await connection.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def postgres_error_text(exc: asyncpg.PostgresError) -> str:
    """The reference's error text: ``<severity>: <message> (SQLSTATE <code>)[ | DETAIL: …][ | HINT: …]``."""
    text = f"{getattr(exc, 'severity', None) or 'ERROR'}: {getattr(exc, 'message', None) or exc}"
    text += f" (SQLSTATE {exc.sqlstate})"
    if getattr(exc, "detail", None):
        text += f" | DETAIL: {exc.detail}"
    if getattr(exc, "hint", None):
        text += f" | HINT: {exc.hint}"
    return text


class PostgresTool:
    kind: ClassVar[str] = "postgres"

    def __init__(self) -> None:
        self._pools: dict[tuple[Any, ...], Pool] = {}
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    async def _pool(self, target: _Target) -> Pool:
        pool = self._pools.get(target.key)
        if pool is not None:
            return pool
        async with self._lock:
            pool = self._pools.get(target.key)
            if pool is None:
                pool = await target.create_pool()
                self._pools[target.key] = pool
            return pool

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        query_key = cfg.first_key("query", "command", "sql") or "query"
        query = cfg.text(query_key)
        params = cfg.array("params", [])
        as_objects = cfg.boolean("as_objects", True)
        timeout_key = cfg.first_key("timeout_seconds", "timeout", "statement_timeout") or "timeout_seconds"
        timeout = min(cfg.number(timeout_key, context.remaining(), minimum=0.001), context.remaining())
        statements = split_statements(query)
        if not statements:
            raise cfg.error(query_key, "contains no SQL statement")
        target = _Target(cfg, context)

        try:
            pool = await self._pool(target)
            connection = await pool.acquire(timeout=max(timeout, 0.001))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            reason = postgres_error_text(exc) if isinstance(exc, asyncpg.PostgresError) else f"{type(exc).__name__}"
            detail = "" if isinstance(exc, asyncpg.PostgresError) else f": {exc}"
            raise ToolError(f"Database error: cannot connect to {target.describe()}: {reason}{detail}") from None
        try:
            # A server-side limit too, so an abandoned query cannot keep running on the server.
            await connection.execute(
                "SELECT set_config('statement_timeout', $1, false)", str(max(1, int(timeout * 1000)))
            )
            data = await asyncio.wait_for(_execute(connection, statements, params, as_objects), timeout=timeout + 1.0)
        except asyncpg.PostgresError as exc:
            timed_out = exc.sqlstate == _QUERY_CANCELED
            return ToolResult(
                ToolStatus.TIMEOUT if timed_out else ToolStatus.ERROR,
                data=_error_data(exc),
                error=f"Execution timed out after {timeout:g} seconds" if timed_out else postgres_error_text(exc),
                duration_ms=_ms(started),
            )
        except TimeoutError:
            return ToolResult(
                ToolStatus.TIMEOUT, error=f"Execution timed out after {timeout:g} seconds", duration_ms=_ms(started)
            )
        except (_ParamError, asyncpg.DataError) as exc:
            message = f"Query failed: {exc}"
            return ToolResult.failure(message, data={"status": "error", "message": message}, duration_ms=_ms(started))
        except (asyncpg.InterfaceError, OSError) as exc:
            raise ToolError(f"Database error: {target.describe()}: {type(exc).__name__}: {exc}") from None
        finally:
            await pool.release(connection)
        return ToolResult.success(data, duration_ms=_ms(started))


async def _execute(
    connection: Any, statements: Sequence[str], params: Sequence[JSONValue], as_objects: bool
) -> JSONObject:
    leading, last = statements[:-1], statements[-1]
    if leading:
        await connection.execute(";\n".join(leading))
    statement = await connection.prepare(last)
    types = statement.get_parameters()
    if len(types) != len(params):
        raise _ParamError(f"the statement has {len(types)} parameter(s) ($n), {len(params)} value(s) were given")
    bound = [_bind(index, kind.name, value) for index, (kind, value) in enumerate(zip(types, params, strict=True), 1)]
    records = await statement.fetch(*bound)
    attributes = statement.get_attributes()
    if not attributes:
        status: str = statement.get_statusmsg() or ""
        words = status.split()
        affected = int(words[-1]) if words and words[-1].isdigit() else 0
        return {"affected_rows": affected, "command": words[0] if words else ""}
    columns = [attribute.name for attribute in attributes]
    rows: list[JSONValue]
    if as_objects:
        rows = [{name: to_json_value(value) for name, value in zip(columns, record, strict=True)} for record in records]
    else:
        rows = [[to_json_value(value) for value in record] for record in records]
    return {"columns": list(columns), "rows": rows, "row_count": len(rows)}


class _ParamError(ValueError):
    """A ``params`` value does not fit its ``$n`` parameter (reported as a failed query, naming ``$n``)."""


_INTEGERS = frozenset({"int2", "int4", "int8", "oid"})
_FLOATS = frozenset({"float4", "float8"})
_TEXTUAL = frozenset({"text", "varchar", "bpchar", "name", "char", "citext", "unknown", "xml"})


def _bind(index: int, type_name: str, value: JSONValue) -> Any:
    """A JSON ``params`` value as the Python type asyncpg binds for the parameter's PostgreSQL type.

    JSON has no dates, decimals or UUIDs; the statement's own parameter types say what a string means.
    """
    if value is None:
        return None
    try:
        if type_name.startswith("_") and isinstance(value, list):  # arrays: element by element
            return [_bind(index, type_name[1:], item) for item in value]
        if type_name in ("json", "jsonb"):
            return value
        if type_name in _TEXTUAL:
            return value if isinstance(value, str) else json.dumps(value)
        if type_name in _INTEGERS:
            return int(value) if isinstance(value, str | bool | int) else _exact_int(value)
        if type_name in _FLOATS:
            return float(value) if isinstance(value, str | int | float) else value
        if type_name == "numeric":
            return decimal.Decimal(str(value)) if isinstance(value, str | int | float) else value
        if type_name == "bool" and isinstance(value, str):
            return {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}[value.strip().lower()]
        if type_name == "uuid" and isinstance(value, str):
            return uuid.UUID(value)
        if type_name == "date" and isinstance(value, str):
            return datetime.date.fromisoformat(value)
        if type_name in ("timestamp", "timestamptz") and isinstance(value, str):
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if type_name in ("time", "timetz") and isinstance(value, str):
            return datetime.time.fromisoformat(value)
        if type_name == "bytea" and isinstance(value, str):
            return base64.b64decode(value, validate=True)
    except (ValueError, KeyError, decimal.InvalidOperation, binascii.Error) as exc:
        raise _ParamError(f"params[{index - 1}] (${index}): cannot be used as {type_name}: {exc}") from None
    return value


def _exact_int(value: JSONValue) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"not an integer: {value!r}")


def _error_data(exc: asyncpg.PostgresError) -> JSONObject:
    fields = ("sqlstate", "severity", "message", "detail", "hint", "position", "schema_name", "table_name",
              "column_name", "constraint_name")  # fmt: skip
    data: JSONObject = {"status": "error"}
    for name in fields:
        value = getattr(exc, name, None)
        if value is not None:
            data[name] = str(value)
    return data


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
