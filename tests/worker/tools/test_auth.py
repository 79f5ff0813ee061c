"""Auth alias resolution (rust-worker-reference.md §7) against a real HTTP credentials endpoint."""

from __future__ import annotations

import json

import pytest
from noetl_worker.control_plane.client import BoundControlPlane
from noetl_worker.tools.auth import AuthResolutionError, resolve_auth

from .conftest import seed_credential

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _credentials(standin_url: str) -> None:
    seed_credential(standin_url, "pg_main", "postgres", {"db_host": "db.local", "db_port": "6543", "db_user": "app",
                                                         "db_password": "pw", "db_name": "appdb"})  # fmt: skip
    seed_credential(standin_url, "api_bearer", "bearer", {"access_token": "tok-123"})
    seed_credential(standin_url, "api_key", "api_key", {"key": "k-1", "header": "X-Custom-Key"})
    seed_credential(standin_url, "api_basic", "basic", {"user": "bob", "db_password": "hunter2"})
    seed_credential(standin_url, "bus", "nats", {"url": "nats://127.0.0.1:4222", "token": "t"})
    seed_credential(standin_url, "gcp", "gcp_adc", {"scopes": []})
    seed_credential(standin_url, "bad_port", "postgres", {"db_port": "not-a-port"})


async def test_configs_without_a_string_alias_are_untouched() -> None:
    auth_object = {"url": "x", "auth": {"type": "bearer", "token": "literal"}}
    # No control plane at all: a lookup would fail, so none is made.
    resolved = await resolve_auth(auth_object, control_plane=None, execution_id=1)
    assert resolved.config == auth_object
    assert resolved.secrets == {}


async def test_postgres_alias_fills_connection_fields_without_overwriting(control_plane: BoundControlPlane) -> None:
    resolved = await resolve_auth(
        {"auth": "pg_main", "query": "select 1", "database": "explicit"}, control_plane=control_plane, execution_id=99
    )
    assert resolved.config == {
        "query": "select 1", "host": "db.local", "port": 6543, "user": "app", "password": "pw", "database": "explicit",
    }  # fmt: skip
    assert resolved.secrets == {}


async def test_bearer_alias_becomes_structured_auth_and_a_secret(control_plane: BoundControlPlane) -> None:
    resolved = await resolve_auth({"url": "u", "auth": "api_bearer"}, control_plane=control_plane, execution_id=1)
    assert resolved.config["auth"] == {"type": "bearer", "credential": "api_bearer"}
    assert resolved.secrets == {"api_bearer": "tok-123"}
    assert "tok-123" not in json.dumps(resolved.config)


async def test_api_key_and_basic_aliases(control_plane: BoundControlPlane) -> None:
    key = await resolve_auth({"credential": "api_key"}, control_plane=control_plane, execution_id=1)
    assert key.config == {"auth": {"type": "api_key", "credential": "api_key", "header": "X-Custom-Key"}}
    assert key.secrets == {"api_key": "k-1"}
    basic = await resolve_auth({"auth": "api_basic"}, control_plane=control_plane, execution_id=1)
    assert basic.config == {"auth": {"type": "basic", "credential": "api_basic", "username": "bob"}}
    assert basic.secrets == {"api_basic": "hunter2"}


async def test_nats_alias_carries_the_connection_json_as_a_secret(control_plane: BoundControlPlane) -> None:
    resolved = await resolve_auth({"auth": "bus", "operation": "kv_get"}, control_plane=control_plane, execution_id=1)
    assert resolved.config == {"operation": "kv_get", "auth": {"type": "nats", "credential": "bus"}}
    assert json.loads(resolved.secrets["bus"]) == {"url": "nats://127.0.0.1:4222", "token": "t"}


async def test_unknown_alias_is_the_reference_404_message(control_plane: BoundControlPlane) -> None:
    with pytest.raises(AuthResolutionError) as err:
        await resolve_auth({"auth": "nope"}, control_plane=control_plane, execution_id=1)
    assert str(err.value) == (
        "Authentication error: Credential alias 'nope' not found in keychain "
        "(server returned 404 for /api/credentials/nope)"
    )


async def test_unsupported_type_names_the_type_and_the_supported_ones(control_plane: BoundControlPlane) -> None:
    with pytest.raises(AuthResolutionError, match=r"unsupported type 'gcp_adc'\. Supported types: postgres, bearer"):
        await resolve_auth({"auth": "gcp"}, control_plane=control_plane, execution_id=1)


async def test_bad_port_in_a_credential_is_named(control_plane: BoundControlPlane) -> None:
    with pytest.raises(AuthResolutionError, match=r"'bad_port' has an invalid port"):
        await resolve_auth({"auth": "bad_port"}, control_plane=control_plane, execution_id=1)


async def test_no_control_plane_is_a_clear_error() -> None:
    with pytest.raises(AuthResolutionError, match="no control plane is configured"):
        await resolve_auth({"auth": "x"}, control_plane=None, execution_id=1)
