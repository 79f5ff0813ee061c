"""``postgres`` against a real PostgreSQL (the session ``postgres`` fixture)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from noetl_worker.tools.base import ToolConfigError, ToolError, ToolStatus
from noetl_worker.tools.postgres import PostgresTool

from tests.support.postgres import PostgresInstance

from .conftest import MakeContext

pytestmark = pytest.mark.integration


@pytest.fixture
async def tool() -> AsyncIterator[PostgresTool]:
    postgres_tool = PostgresTool()
    yield postgres_tool
    await postgres_tool.aclose()


def conn(pg: PostgresInstance, **extra: Any) -> dict[str, Any]:
    return {"host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password, "database": pg.database,
            **extra}  # fmt: skip


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def test_select_with_dollar_params(tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext) -> None:
    result = await tool.run(conn(postgres, query="SELECT $1::int + $2::int AS total, $3::text AS label",
                                 params=[40, "2", "x"]), ctx())  # fmt: skip
    assert result.ok, result.error
    assert result.data == {"columns": ["total", "label"], "rows": [{"total": 42, "label": "x"}], "row_count": 1}


async def test_a_multi_statement_script_returns_the_last_statement(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    table = unique("items")
    script = f"""
        -- a comment; with a semicolon
        CREATE TABLE {table} (id int primary key, name text);
        INSERT INTO {table} VALUES (1, 'a;b'), (2, $$c;d$$);
        /* block; comment */
        SELECT id, name FROM {table} ORDER BY id;
    """
    result = await tool.run(conn(postgres, query=script), ctx())
    assert result.ok, result.error
    assert result.data == {"columns": ["id", "name"], "rows": [{"id": 1, "name": "a;b"}, {"id": 2, "name": "c;d"}],
                           "row_count": 2}  # fmt: skip
    dml = await tool.run(conn(postgres, query=f"UPDATE {table} SET name = 'z'"), ctx())
    assert dml.data == {"affected_rows": 2, "command": "UPDATE"}
    arrays = await tool.run(conn(postgres, query=f"SELECT * FROM {table} ORDER BY id", as_objects=False), ctx())
    assert arrays.data["rows"] == [[1, "z"], [2, "z"]]


async def test_function_bodies_with_semicolons_stay_whole(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    name = unique("f")
    script = (
        f"CREATE FUNCTION {name}() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;"
        f"SELECT {name}() AS v"
    )
    result = await tool.run(conn(postgres, query=script), ctx())
    assert result.data["rows"] == [{"v": 1}]


async def test_types_map_to_json_without_silent_nulls(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    query = """SELECT 12345678901234567890.123456789::numeric AS n, 1.5::float4 AS f4, 7::int2 AS i2,
                      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, DATE '2026-11-29' AS d,
                      TIMESTAMP '2026-11-29 05:06:07.123456' AS ts, TIMESTAMPTZ '2026-11-29 05:06:07+00' AS tstz,
                      TIME '01:02:03' AS t, INTERVAL '1 day 2 hours 0.5 seconds' AS iv, '\\x00ff'::bytea AS b,
                      '{"k": [1, 2]}'::jsonb AS j, ARRAY[1, 2] AS arr, true AS flag, NULL::int AS nothing,
                      'NaN'::float8 AS nan, '127.0.0.1/32'::inet AS ip, int4range(1, 5) AS r"""
    result = await tool.run(conn(postgres, query=query), ctx())
    assert result.ok, result.error
    row = result.data["rows"][0]
    assert row == {
        "n": "12345678901234567890.123456789", "f4": 1.5, "i2": 7, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "d": "2026-11-29", "ts": "2026-11-29T05:06:07.123456", "tstz": "2026-11-29T05:06:07+00:00",
        "t": "01:02:03", "iv": "P1DT7200.5S", "b": base64.b64encode(b"\x00\xff").decode(), "j": {"k": [1, 2]},
        "arr": [1, 2], "flag": True, "nothing": None, "nan": "nan", "ip": "127.0.0.1",
        "r": {"lower": 1, "upper": 5, "lower_inc": True, "upper_inc": False, "empty": False},
    }  # fmt: skip


async def test_json_params_bind_to_typed_parameters(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    query = "SELECT $1::date + 1 AS d, $2::numeric * 2 AS n, $3::uuid AS u, $4::timestamptz AS ts, $5::jsonb AS j"
    params = ["2026-01-31", "1.10", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2026-01-01T00:00:00Z", {"a": 1}]
    result = await tool.run(conn(postgres, query=query, params=params), ctx())
    assert result.ok, result.error
    assert result.data["rows"] == [{
        "d": "2026-02-01", "n": "2.20", "u": params[2], "ts": "2026-01-01T00:00:00+00:00", "j": {"a": 1},
    }]  # fmt: skip


async def test_a_bad_param_names_its_position(tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext) -> None:
    result = await tool.run(conn(postgres, query="SELECT $1::int AS x", params=["seven"]), ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error is not None
    assert result.error.startswith("Query failed: params[0] ($1): cannot be used as int4")
    counted = await tool.run(conn(postgres, query="SELECT $1::int AS x", params=[1, 2]), ctx())
    assert counted.error == "Query failed: the statement has 1 parameter(s) ($n), 2 value(s) were given"


async def test_sql_errors_carry_sqlstate_detail_and_hint(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    table = unique("uniq")
    await tool.run(conn(postgres, query=f"CREATE TABLE {table} (id int primary key); INSERT INTO {table} VALUES (1)"),
                   ctx())  # fmt: skip
    dup = await tool.run(conn(postgres, query=f"INSERT INTO {table} VALUES (1)"), ctx())
    assert dup.status is ToolStatus.ERROR
    assert dup.error is not None
    assert dup.error.startswith(
        f'ERROR: duplicate key value violates unique constraint "{table}_pkey" (SQLSTATE 23505)'
    )
    assert "| DETAIL: Key (id)=(1) already exists." in dup.error
    assert dup.data["sqlstate"] == "23505"
    hinted = await tool.run(conn(postgres, query="SELECT nosuchfunction(1)"), ctx())
    assert "(SQLSTATE 42883) | HINT: No function matches" in (hinted.error or "")


async def test_statement_timeout_cancels_on_the_server(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    result = await tool.run(conn(postgres, query="SELECT pg_sleep(30)", timeout_seconds=0.5), ctx())
    assert result.status is ToolStatus.TIMEOUT
    assert result.error == "Execution timed out after 0.5 seconds"
    active = await tool.run(
        conn(postgres, query="SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"), ctx()
    )
    assert active.data["rows"] == [{"n": 0}]


async def test_schema_is_quoted_and_pooled_connections_do_not_keep_it(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    schema = unique("Odd Schema; DROP TABLE x")
    await tool.run(conn(postgres, query=f'CREATE SCHEMA "{schema}"; CREATE TABLE "{schema}".t (v int);'
                                        f'INSERT INTO "{schema}".t VALUES (5)'), ctx())  # fmt: skip
    scoped = await tool.run(conn(postgres, query="SELECT v FROM t", schema=schema), ctx())
    assert scoped.data["rows"] == [{"v": 5}]
    plain = await tool.run(conn(postgres, query="SHOW search_path"), ctx())
    assert plain.data["rows"] == [{"search_path": '"$user", public'}]


async def test_templated_values_in_params_can_never_become_sql(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    table = unique("victims")
    await tool.run(conn(postgres, query=f"CREATE TABLE {table} (name text); INSERT INTO {table} VALUES ('keep')"),
                   ctx())  # fmt: skip
    hostile = f"x'); DROP TABLE {table}; --"
    context = ctx(variables={"workload": {"name": hostile}})
    result = await tool.run(
        conn(postgres, query=f"INSERT INTO {table} VALUES ($1) RETURNING name", params=["{{ workload.name }}"]),
        context,
    )
    assert result.data["rows"] == [{"name": hostile}]
    survivors = await tool.run(conn(postgres, query=f"SELECT count(*) AS n FROM {table}"), ctx())
    assert survivors.data["rows"] == [{"n": 2}]


async def test_password_from_keychain_alias_and_connection_string(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    aliased = await tool.run(conn(postgres, query="SELECT 1 AS one", password="PG_PASSWORD"),
                             ctx(secrets={"PG_PASSWORD": postgres.password}))  # fmt: skip
    assert aliased.ok, aliased.error
    by_dsn = await tool.run({"connection_string": postgres.dsn, "query": "SELECT 2 AS two"}, ctx())
    assert by_dsn.data["rows"] == [{"two": 2}]


async def test_connection_failures_never_show_the_password(
    tool: PostgresTool, postgres: PostgresInstance, ctx: MakeContext
) -> None:
    with pytest.raises(ToolError) as err:
        await tool.run(conn(postgres, query="SELECT 1", password="wrong-pass-123"), ctx())
    assert str(err.value).startswith(
        f"Database error: cannot connect to postgresql://postgres@127.0.0.1:{postgres.port}"
    )
    assert "28P01" in str(err.value)
    assert "wrong-pass-123" not in str(err.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: postgres.query: required"),
        ({"query": "  -- nothing\n"}, "Configuration error: postgres.query: contains no SQL statement"),
        ({"query": "select 1", "params": {"a": 1}}, "Configuration error: postgres.params: expected a list"),
        ({"query": "select 1", "port": "x"}, "Configuration error: postgres.port: expected a number"),
        ({"query": "select 1", "schema": [1]}, "Configuration error: postgres.schema: expected a schema name"),
        ({"query": "select 1", "ssl": "maybe"}, "Configuration error: postgres.ssl: expected one of"),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await PostgresTool().run(config, ctx())
    assert str(err.value).startswith(message)
