"""``secrets``: read one keychain entry or credential into the result — scrubbed unless allowed.

Config keys: ``name`` (required), ``provider`` (``keychain``: the command's secrets, i.e. the
``NOETL_KEYCHAIN_ENV_VARS`` allow-list and resolved aliases; ``credential``: ``GET /api/credentials/{name}``;
default ``auto`` = keychain, then credential), ``reveal`` (default false).

Result: ``{name, provider, found: true, value}`` (credentials add ``type``). Unless ``reveal: true`` every
secret value is replaced by ``"[REDACTED]"`` (a credential's data keeps its keys), so a step can check that a
secret exists and has the expected fields without the value ever reaching the event log. A missing entry is
status error ``Secret '<name>' not found``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import render_config
from noetl_worker.tools._redact import REDACTED
from noetl_worker.tools.base import ToolContext, ToolError, ToolResult

__all__ = ["REDACTED", "SecretsTool"]

_PROVIDERS = frozenset({"auto", "keychain", "credential", "env"})


def _scrub(value: JSONValue) -> JSONValue:
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return None if value is None else REDACTED


class SecretsTool:
    kind: ClassVar[str] = "secrets"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        name = cfg.text("name")
        provider = cfg.text("provider", "auto").lower()
        if provider not in _PROVIDERS:
            raise cfg.error("provider", "expected keychain, credential or auto")
        reveal = cfg.boolean("reveal", False)

        data: JSONObject | None = None
        if provider in ("auto", "keychain", "env") and name in context.secrets:
            secret: JSONValue = context.secrets[name]
            data = {"name": name, "provider": "keychain", "found": True, "value": secret}
        elif provider in ("auto", "credential") and context.control_plane is not None:
            try:
                credential = await context.control_plane.get_credential(name, context.execution_id)
            except Exception as exc:  # transport/HTTP failure of the control-plane client
                raise ToolError(f"HTTP error: reading credential '{name}': {exc}") from None
            if credential is not None:
                data = {"name": name, "provider": "credential", "found": True,
                        "type": credential.get("type"), "value": credential.get("data")}  # fmt: skip
        if data is None:
            return ToolResult.failure(
                f"Secret '{name}' not found", data={"name": name, "found": False}, duration_ms=_ms(started)
            )
        if not reveal:
            data["value"] = _scrub(data["value"])
        return ToolResult.success(data, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
