"""``secrets``: keychain and credential entries, scrubbed unless explicitly revealed."""

from __future__ import annotations

import json
import logging

import pytest
from noetl_worker.control_plane.client import BoundControlPlane
from noetl_worker.tools.base import ToolConfigError, ToolStatus
from noetl_worker.tools.secrets import SecretsTool

from .conftest import MakeContext, seed_credential

pytestmark = pytest.mark.integration


async def test_a_keychain_secret_is_redacted_by_default(ctx: MakeContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = await SecretsTool().run({"name": "API_TOKEN"}, ctx(secrets={"API_TOKEN": "tok-very-secret"}))
    assert result.ok
    assert result.data == {"name": "API_TOKEN", "provider": "keychain", "found": True, "value": "[REDACTED]"}
    assert "tok-very-secret" not in json.dumps(result.to_json())
    assert "tok-very-secret" not in caplog.text


async def test_reveal_is_an_explicit_opt_in(ctx: MakeContext) -> None:
    result = await SecretsTool().run({"name": "API_TOKEN", "reveal": True}, ctx(secrets={"API_TOKEN": "tok"}))
    assert result.data["value"] == "tok"


async def test_a_credential_keeps_its_shape_but_not_its_values(
    ctx: MakeContext, control_plane: BoundControlPlane, standin_url: str
) -> None:
    seed_credential(standin_url, "pg_reporting", "postgres", {"db_host": "db", "db_password": "pw-123"})
    result = await SecretsTool().run({"name": "pg_reporting"}, ctx(control_plane=control_plane))
    assert result.data == {"name": "pg_reporting", "provider": "credential", "found": True, "type": "postgres",
                           "value": {"db_host": "[REDACTED]", "db_password": "[REDACTED]"}}  # fmt: skip
    assert "pw-123" not in json.dumps(result.to_json())


async def test_a_missing_secret_is_an_error_result(ctx: MakeContext, control_plane: BoundControlPlane) -> None:
    result = await SecretsTool().run({"name": "nope"}, ctx(control_plane=control_plane))
    assert result.status is ToolStatus.ERROR
    assert result.error == "Secret 'nope' not found"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: secrets.name: required"),
        ({"name": "x", "provider": "vault"}, "Configuration error: secrets.provider: expected"),
        ({"name": "x", "reveal": "perhaps"}, "Configuration error: secrets.reveal: expected a boolean"),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await SecretsTool().run(config, ctx())
    assert str(err.value).startswith(message)
