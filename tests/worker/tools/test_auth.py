"""Auth alias resolution (rust-worker-reference.md §7) against a real HTTP credentials endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from noetl_worker.tools.auth import AuthResolutionError, resolve_auth

from .peers import ControlPlaneState, HttpControlPlane, control_plane_app, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def plane_state() -> Iterator[tuple[ControlPlaneState, str]]:
    state = ControlPlaneState()
    state.add_credential("pg_main", "postgres", {"db_host": "db.local", "db_port": "6543", "db_user": "app",
                                                 "db_password": "pw", "db_name": "appdb"})  # fmt: skip
    state.add_credential("api_bearer", "bearer", {"access_token": "tok-123"})
    state.add_credential("api_key", "api_key", {"key": "k-1", "header": "X-Custom-Key"})
    state.add_credential("api_basic", "basic", {"user": "bob", "db_password": "hunter2"})
    state.add_credential("bus", "nats", {"url": "nats://127.0.0.1:4222", "token": "t"})
    state.add_credential("gcp", "gcp_adc", {"scopes": []})
    state.add_credential("bad_port", "postgres", {"db_port": "not-a-port"})
    with serving(control_plane_app(state)) as url:
        yield state, url


@pytest.fixture
async def plane(plane_state: tuple[ControlPlaneState, str]) -> AsyncIterator[HttpControlPlane]:
    client = HttpControlPlane(plane_state[1])
    yield client
    await client.aclose()


async def test_configs_without_a_string_alias_are_untouched_and_make_no_request(
    plane: HttpControlPlane, plane_state: tuple[ControlPlaneState, str]
) -> None:
    before = len(plane_state[0].credential_requests)
    auth_object = {"url": "x", "auth": {"type": "bearer", "token": "literal"}}
    resolved = await resolve_auth(auth_object, control_plane=plane, execution_id=1)
    assert resolved.config == auth_object
    assert resolved.secrets == {}
    assert len(plane_state[0].credential_requests) == before


async def test_postgres_alias_fills_connection_fields_without_overwriting(
    plane: HttpControlPlane, plane_state: tuple[ControlPlaneState, str]
) -> None:
    resolved = await resolve_auth(
        {"auth": "pg_main", "query": "select 1", "database": "explicit"}, control_plane=plane, execution_id=99
    )
    assert resolved.config == {
        "query": "select 1", "host": "db.local", "port": 6543, "user": "app", "password": "pw", "database": "explicit",
    }  # fmt: skip
    assert resolved.secrets == {}
    assert plane_state[0].credential_requests[-1] == "/api/credentials/pg_main?include_data=true&execution_id=99"


async def test_bearer_alias_becomes_structured_auth_and_a_secret(plane: HttpControlPlane) -> None:
    resolved = await resolve_auth({"url": "u", "auth": "api_bearer"}, control_plane=plane, execution_id=1)
    assert resolved.config["auth"] == {"type": "bearer", "credential": "api_bearer"}
    assert resolved.secrets == {"api_bearer": "tok-123"}
    assert "tok-123" not in json.dumps(resolved.config)


async def test_api_key_and_basic_aliases(plane: HttpControlPlane) -> None:
    key = await resolve_auth({"credential": "api_key"}, control_plane=plane, execution_id=1)
    assert key.config == {"auth": {"type": "api_key", "credential": "api_key", "header": "X-Custom-Key"}}
    assert key.secrets == {"api_key": "k-1"}
    basic = await resolve_auth({"auth": "api_basic"}, control_plane=plane, execution_id=1)
    assert basic.config == {"auth": {"type": "basic", "credential": "api_basic", "username": "bob"}}
    assert basic.secrets == {"api_basic": "hunter2"}


async def test_nats_alias_carries_the_connection_json_as_a_secret(plane: HttpControlPlane) -> None:
    resolved = await resolve_auth({"auth": "bus", "operation": "kv_get"}, control_plane=plane, execution_id=1)
    assert resolved.config == {"operation": "kv_get", "auth": {"type": "nats", "credential": "bus"}}
    assert json.loads(resolved.secrets["bus"]) == {"url": "nats://127.0.0.1:4222", "token": "t"}


async def test_unknown_alias_is_the_reference_404_message(plane: HttpControlPlane) -> None:
    with pytest.raises(AuthResolutionError) as err:
        await resolve_auth({"auth": "nope"}, control_plane=plane, execution_id=1)
    assert str(err.value) == (
        "Authentication error: Credential alias 'nope' not found in keychain "
        "(server returned 404 for /api/credentials/nope)"
    )


async def test_unsupported_type_names_the_type_and_the_supported_ones(plane: HttpControlPlane) -> None:
    with pytest.raises(AuthResolutionError, match=r"unsupported type 'gcp_adc'\. Supported types: postgres, bearer"):
        await resolve_auth({"auth": "gcp"}, control_plane=plane, execution_id=1)


async def test_bad_port_in_a_credential_is_named(plane: HttpControlPlane) -> None:
    with pytest.raises(AuthResolutionError, match=r"'bad_port' has an invalid port"):
        await resolve_auth({"auth": "bad_port"}, control_plane=plane, execution_id=1)


async def test_no_control_plane_is_a_clear_error() -> None:
    with pytest.raises(AuthResolutionError, match="no control plane is configured"):
        await resolve_auth({"auth": "x"}, control_plane=None, execution_id=1)
