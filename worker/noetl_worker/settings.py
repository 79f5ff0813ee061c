"""The worker's configuration: one pydantic model read from the environment.

Names and defaults are those of the seed ``noetl-worker`` image (the image's ``ENV`` wins where it differs
from the seed's code: stream ``NOETL_COMMANDS``, consumer ``noetl_worker_pool``, the in-cluster URLs), plus
what a production worker also needs (NATS token / creds / NKEY / TLS, a control-plane bearer token, a
per-command timeout, a drain deadline). Unlike the seed, a value that does not parse is a start-up error
naming the variable — never a silent fallback to the default.

``python -m noetl_worker.settings --markdown`` prints the environment table of ``docs/worker.md``.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import uuid
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from noetl_wire.jetstream import DEFAULT_ACK_WAIT_SECONDS, DEFAULT_MAX_ACK_PENDING, DEFAULT_MAX_DELIVER
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

__all__ = ["SettingsError", "WorkerSettings", "load_settings", "settings_markdown"]

MASK = "********"


class SettingsError(ValueError):
    """One or more environment variables are invalid; the message names each of them."""


def _env(name: str, description: str, default: Any = None, **kwargs: Any) -> Any:
    return Field(default, validation_alias=name, description=description, **kwargs)


def _default_worker_id() -> str:
    return str(uuid.uuid4())


class WorkerSettings(BaseModel):
    """Effective worker configuration. Every field is read from the environment variable named in its alias."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    # --- identity -------------------------------------------------------------------------------------
    worker_id: str = Field(
        default_factory=_default_worker_id,
        validation_alias="WORKER_ID",
        description="Worker identity: claim `worker_id`, registration `name`, event `worker_id`. "
        "Deployments set it to the pod name. Default: a random UUID per process.",
        min_length=1,
    )
    pool_name: str = _env(
        "WORKER_POOL_NAME", "Pool name, sent as `labels.pool_name` on registration.", "worker-rust-pool", min_length=1
    )

    # --- control plane --------------------------------------------------------------------------------
    server_url: str = _env(
        "NOETL_SERVER_URL",
        "Control-plane base URL for register/heartbeat/deregister (per-command calls go to the pointer's "
        "`server_url`). A trailing `/` or `/api` is ignored.",
        "http://noetl.noetl.svc.cluster.local:8082",
    )
    api_token: SecretStr | None = _env(
        "NOETL_API_TOKEN",
        "Bearer token sent as `Authorization: Bearer …` on control-plane calls, but only to the origin "
        "(scheme, host, port) of `NOETL_SERVER_URL` or of `NOETL_API_TOKEN_ORIGINS`, never to another "
        "`server_url` a pointer names. Secret.",
    )
    api_token_origins: str | None = _env(
        "NOETL_API_TOKEN_ORIGINS",
        "Comma-separated extra control-plane base URLs that may receive `NOETL_API_TOKEN` (when the server "
        "publishes a `server_url` spelled differently from `NOETL_SERVER_URL`).",
    )
    http_timeout: float = _env("WORKER_HTTP_TIMEOUT", "Control-plane HTTP timeout per request (seconds).", 30.0, gt=0)

    # --- NATS -----------------------------------------------------------------------------------------
    nats_url: str = _env(
        "NATS_URL",
        "NATS server URL(s), comma-separated. May carry `user:pass@` (percent-decoded, stripped before "
        "connecting and from logs).",
        "nats://nats.nats.svc.cluster.local:4222",
    )
    nats_user: str | None = _env("NATS_USER", "NATS user; with `NATS_PASSWORD` it overrides URL credentials.")
    nats_password: SecretStr | None = _env("NATS_PASSWORD", "NATS password. Secret.")
    nats_token: SecretStr | None = _env("NATS_TOKEN", "NATS token authentication. Secret.")
    nats_creds: str | None = _env("NATS_CREDS", "Path to a NATS `.creds` file (JWT + NKEY seed).")
    nats_nkey_seed: str | None = _env("NATS_NKEY_SEED", "Path to a NATS NKEY seed file.")
    nats_tls_ca: str | None = _env("NATS_TLS_CA", "Path to a CA bundle for NATS TLS (enables TLS).")
    nats_tls_cert: str | None = _env("NATS_TLS_CERT", "Client certificate for NATS mutual TLS (with `NATS_TLS_KEY`).")
    nats_tls_key: str | None = _env("NATS_TLS_KEY", "Client key for NATS mutual TLS (with `NATS_TLS_CERT`).")
    nats_stream: str = _env("NATS_STREAM", "JetStream stream (get-or-create).", "NOETL_COMMANDS", min_length=1)
    nats_consumer: str = _env(
        "NATS_CONSUMER", "Durable pull consumer (get-or-create).", "noetl_worker_pool", min_length=1
    )
    nats_subject: str = _env(
        "NATS_SUBJECT",
        "Base subject; used only when the worker creates the stream (subjects `[s, s.>]`).",
        "noetl.commands",
        min_length=1,
    )
    nats_filter_subject: str | None = _env(
        "NATS_FILTER_SUBJECT",
        "Consumer `filter_subject`, used only when the worker creates the consumer. Blank = `NATS_SUBJECT`.",
    )
    nats_dead_letter_subject: str | None = _env(
        "NATS_DEAD_LETTER_SUBJECT",
        "Subject receiving a copy (with the reason) of every terminated poison message. "
        "Default `noetl.deadletter.<NATS_CONSUMER>`.",
    )
    nats_reconcile_consumer: bool = _env(
        "NATS_RECONCILE_CONSUMER",
        "If true, update an existing consumer whose ack settings differ from ours; by default drift is only "
        "logged (another component may own the consumer).",
        False,
    )
    nats_ack_wait: float = _env(
        "NATS_ACK_WAIT",
        "`ack_wait` (seconds) used when the worker creates the consumer; running commands send `in_progress` "
        "every `ack_wait/3`, so a short one only speeds up recovery from a killed worker.",
        float(DEFAULT_ACK_WAIT_SECONDS),
        gt=0,
    )
    nats_max_deliver: int = _env(
        "NATS_MAX_DELIVER",
        "`max_deliver` used when the worker creates the consumer (-1 = unlimited).",
        DEFAULT_MAX_DELIVER,
    )
    nats_max_ack_pending: int = _env(
        "NATS_MAX_ACK_PENDING",
        "`max_ack_pending` used when the worker creates the consumer; keep it >= replicas x `WORKER_MAX_CONCURRENT`.",
        DEFAULT_MAX_ACK_PENDING,
        ge=1,
    )
    nats_pull_expiry: float = _env(
        "WORKER_NATS_PULL_EXPIRY",
        "Lifetime (seconds) of one long-poll pull request; the server holds it until messages arrive.",
        10.0,
        gt=0.1,
    )
    lag_poll_interval: float = _env(
        "WORKER_NATS_LAG_POLL_INTERVAL", "Consumer-lag gauge poll cadence (seconds, ≥1).", 5.0, ge=1
    )

    # --- execution ------------------------------------------------------------------------------------
    max_concurrent: int = _env("WORKER_MAX_CONCURRENT", "Slots: commands run concurrently per process.", 4, ge=1)
    command_timeout: float = _env(
        "WORKER_COMMAND_TIMEOUT",
        "Per-command tool timeout (seconds); on expiry the tool is cancelled and `call.error` reports it.",
        900.0,
        gt=0,
    )
    outcome_hold: float = _env(
        "WORKER_OUTCOME_HOLD",
        "How long (seconds) a finished command's outcome is held in memory and retried while the control "
        "plane is unreachable, before the NATS message is naked for redelivery.",
        600.0,
        gt=0,
    )
    drain_deadline: float = _env(
        "WORKER_DRAIN_DEADLINE",
        "On SIGTERM/SIGINT: seconds in-flight commands may take to finish before they are naked. Keep it "
        "below the pod's `terminationGracePeriodSeconds`.",
        25.0,
        ge=0,
    )
    heartbeat_interval: float = _env("WORKER_HEARTBEAT_INTERVAL", "Registry heartbeat period (seconds).", 15.0, gt=0)
    keychain_env_vars: str | None = _env(
        "NOETL_KEYCHAIN_ENV_VARS",
        "Comma-separated env var NAMES lifted into every command's secrets (values never logged).",
    )

    # --- ids, observability ---------------------------------------------------------------------------
    snowflake_node_id: int | None = _env(
        "NOETL_SNOWFLAKE_NODE_ID", "Snowflake node id (0-1023); else `NOETL_SHARD_ID`; else a hash of WORKER_ID."
    )
    shard_id: int | None = _env("NOETL_SHARD_ID", "Fallback snowflake node id (0-1023).")
    snowflake_epoch_ms: int = _env("NOETL_SNOWFLAKE_EPOCH_MS", "Snowflake epoch (ms since 1970).", 1704067200000, ge=0)
    metrics_bind: str = _env(
        "WORKER_METRICS_BIND", "`ip:port` of the `/metrics`, `/healthz`, `/readyz` server.", "0.0.0.0:9090"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _env("WORKER_LOG_LEVEL", "Log level.", "INFO")
    log_format: Literal["json", "text"] = _env("WORKER_LOG_FORMAT", "`json` (one object per line) or `text`.", "json")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _normalise_case(cls, value: object, info: Any) -> object:
        if isinstance(value, str):
            return value.upper() if info.field_name == "log_level" else value.lower()
        return value

    @field_validator("snowflake_node_id", "shard_id")
    @classmethod
    def _ten_bits(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 1023:
            raise ValueError("must be between 0 and 1023 (10 bits)")
        return value

    @field_validator("metrics_bind")
    @classmethod
    def _ip_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        try:
            ipaddress.ip_address(host.strip("[]"))
            port_number = int(port)
        except ValueError:
            raise ValueError("must be ip:port, e.g. 0.0.0.0:9090") from None
        if not sep or not 0 <= port_number <= 65535:
            raise ValueError("must be ip:port, e.g. 0.0.0.0:9090")
        return value

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL, e.g. http://noetl:8082")
        return value.strip()

    @field_validator("nats_url")
    @classmethod
    def _nats_url(cls, value: str) -> str:
        for server in value.split(","):
            parts = urlsplit(server.strip())
            if parts.scheme not in ("nats", "tls", "ws", "wss") or not parts.hostname:
                raise ValueError("must be nats://host:port (comma-separated for several servers)")
            try:
                _ = parts.port
            except ValueError:
                raise ValueError("has an invalid port") from None
        return value

    @field_validator("nats_filter_subject", "nats_dead_letter_subject", "keychain_env_vars", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _tls_pair(self) -> WorkerSettings:
        if bool(self.nats_tls_cert) != bool(self.nats_tls_key):
            raise ValueError("NATS_TLS_CERT and NATS_TLS_KEY must be set together")
        return self

    # --- derived values ---------------------------------------------------------------------------------
    @property
    def filter_subject(self) -> str:
        return self.nats_filter_subject or self.nats_subject

    @property
    def dead_letter_subject(self) -> str:
        return self.nats_dead_letter_subject or f"noetl.deadletter.{self.nats_consumer}"

    @property
    def nats_servers(self) -> list[str]:
        """Server URLs with any ``user:pass@`` removed (credentials go to :meth:`nats_credentials`)."""
        return [_strip_userinfo(s.strip()) for s in self.nats_url.split(",") if s.strip()]

    def nats_credentials(self) -> tuple[str | None, str | None]:
        """User/password: ``NATS_USER``+``NATS_PASSWORD`` if both set, else the first URL's userinfo."""
        password = self.nats_password.get_secret_value() if self.nats_password else None
        if self.nats_user and password:
            return self.nats_user, password
        parts = urlsplit(self.nats_url.split(",")[0].strip())
        if parts.username:
            return unquote(parts.username), unquote(parts.password) if parts.password else None
        return None, None

    @property
    def metrics_host_port(self) -> tuple[str, int]:
        host, _, port = self.metrics_bind.rpartition(":")
        return host.strip("[]"), int(port)

    def extra_token_origins(self) -> list[str]:
        """Base URLs besides ``NOETL_SERVER_URL`` whose origin may receive the API token."""
        return [u.strip() for u in (self.api_token_origins or "").split(",") if u.strip()]

    def keychain_names(self) -> list[str]:
        return [n.strip() for n in (self.keychain_env_vars or "").split(",") if n.strip()]

    def masked(self) -> dict[str, str]:
        """Effective configuration by env var name, secrets and URL credentials masked (for ``config``)."""
        out: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                shown = MASK
            elif name == "nats_url":
                shown = ",".join(_mask_userinfo(s.strip()) for s in value.split(","))
            elif value is None:
                shown = ""
            else:
                shown = str(value).lower() if isinstance(value, bool) else str(value)
            out[_env_name(name, info)] = shown
        return out


def _env_name(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    return alias if isinstance(alias, str) else name.upper()


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _mask_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    return url.replace(parts.netloc, f"{MASK}@{parts.netloc.rpartition('@')[2]}", 1)


def load_settings(environ: Mapping[str, str] | None = None) -> WorkerSettings:
    """Read :class:`WorkerSettings` from ``environ`` (default ``os.environ``).

    Raises :class:`SettingsError` naming every invalid variable with its value and what is expected.
    """
    env = os.environ if environ is None else environ
    fields = WorkerSettings.model_fields
    aliases = {_env_name(name, info) for name, info in fields.items()}
    data = {key: value for key, value in env.items() if key in aliases}
    try:
        return WorkerSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            variable = str(error["loc"][0]) if error["loc"] else "configuration"
            shown = data.get(variable)
            secret = variable in {"NATS_PASSWORD", "NATS_TOKEN", "NOETL_API_TOKEN"}
            value = "" if shown is None or secret else f"={shown!r}"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{variable}{value}: {message}")
        raise SettingsError("invalid worker configuration: " + "; ".join(problems)) from None


def settings_markdown() -> str:
    """The environment-variable table of ``docs/worker.md``, generated from the model."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, info in WorkerSettings.model_fields.items():
        if info.default_factory is not None:
            default = "(random UUID)"
        elif info.default is None:
            default = "unset"
        else:
            default = f"`{str(info.default).lower() if isinstance(info.default, bool) else info.default}`"
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{_env_name(name, info)}` | {default} | {description} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["--markdown"]:
        sys.stderr.write("usage: python -m noetl_worker.settings --markdown\n")
        return 2
    sys.stdout.write(settings_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
