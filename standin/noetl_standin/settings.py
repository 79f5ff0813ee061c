"""Settings of the stand-in control plane: one model, environment prefix ``NOETL_STANDIN_``.

Defaults follow the NoETL server's own defaults (lease 120 s, heartbeat staleness 30 s, claim
Retry-After 2 s, re-publication after 30 s, batch limits 256 events / 2 MiB) so that, unless a test
shortens a timer on purpose, the stand-in behaves like production.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StandinSettings"]


class StandinSettings(BaseSettings):
    """Everything the stand-in can be told; each field is also ``NOETL_STANDIN_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="NOETL_STANDIN_", extra="ignore")

    # -- HTTP ------------------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: int = Field(8082, ge=0, le=65535, description="TCP port; 0 lets the kernel pick one.")
    server_url: str | None = Field(
        None,
        description="URL put in pointer messages as `server_url` (workers call back there). "
        "Default: http://<host>:<bound port>.",
    )
    access_log: bool = Field(False, description="Log every request (off by default: it costs throughput).")
    log_level: str = Field("warning", description="uvicorn / stand-in log level.")

    # -- NATS ------------------------------------------------------------------------------------------
    nats_url: str | None = Field(None, description="nats:// URL; unset = do not publish (HTTP-only stand-in).")
    nats_stream: str = Field("NOETL_COMMANDS", description="JetStream stream, created if missing.")
    nats_subject: str = Field("noetl.commands", description="Base subject of pointer messages.")
    pool_routing: bool = Field(
        False, description="Publish on `<subject>.<pool>.<execution_id>` instead of the base subject."
    )
    publish_timeout_seconds: float = Field(
        2.0, gt=0, description="JetStream publish-ack timeout (a failed publish is retried by re-publication)."
    )

    # -- Re-publication and reaper ---------------------------------------------------------------------
    republish_delay_seconds: float = Field(
        30.0, ge=0, description="Re-publish a command still PENDING this long after its last publish; 0 = never."
    )
    reaper_interval_seconds: float = Field(
        60.0, ge=0, description="Re-publish orphaned CLAIMED/RUNNING commands every this often; 0 = never."
    )

    # -- Claim lease -----------------------------------------------------------------------------------
    claim_lease_seconds: float = Field(
        120.0, ge=0, description="Minimum claim age before another worker may take over."
    )
    worker_heartbeat_stale_seconds: float = Field(
        30.0, gt=0, description="A holder whose registry heartbeat is older than this is stale (claim stealable)."
    )
    healthy_worker_hard_timeout_seconds: float = Field(
        1800.0, gt=0, description="Claim age after which even a healthy holder loses it."
    )
    claim_retry_after_seconds: float = Field(2.0, ge=0, description="Retry-After sent with 409 active_claim.")

    # -- Worker registry -------------------------------------------------------------------------------
    heartbeat_retry_after_seconds: float = Field(5.0, ge=0, description="Retry-After on a 404 heartbeat.")
    auto_recreate_runtime: bool = Field(
        True, description="Re-create a missing registry row from a heartbeat that carries `registration`."
    )
    runtime_offline_seconds: float = Field(
        120.0, gt=0, description="Registry rows without a heartbeat for this long are reported offline."
    )

    # -- Events ----------------------------------------------------------------------------------------
    batch_max_events: int = Field(256, ge=1, description="Events per batch request, else 422.")
    batch_max_payload_bytes: int = Field(2 * 1024 * 1024, ge=1, description="Payload bytes per batch, else 422.")
    batch_workers: int = Field(1, ge=1, description="Concurrent consumers of the accepted-batch queue.")
    event_log_limit: int | None = Field(
        None,
        ge=1,
        description="Keep at most this many events in memory (long benchmarks); older ones leave the read-outs "
        "and the dedupe index. Unset = keep everything.",
    )

    externalize_context_field_bytes: int | None = Field(
        None,
        ge=0,
        description="Send command context fields larger than this as result references, like the server "
        "(its default is 8192); unset = always inline.",
    )

    # -- Pool status -----------------------------------------------------------------------------------
    pool_max: int = Field(32, ge=1, description="Size of the pretend database pool reported by /api/pool/status.")

    @property
    def nats_enabled(self) -> bool:
        return bool(self.nats_url)
