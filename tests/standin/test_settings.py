"""Settings: flags override ``NOETL_STANDIN_*`` variables, which override the server-like defaults."""

from __future__ import annotations

import pytest
from noetl_standin.cli import build_parser, settings_from_args
from noetl_standin.settings import StandinSettings

pytestmark = pytest.mark.unit


def test_flags_override_environment_which_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOETL_STANDIN_CLAIM_LEASE_SECONDS", "5")
    monkeypatch.setenv("NOETL_STANDIN_PORT", "9000")
    settings = settings_from_args(build_parser().parse_args(["--port", "9100", "--pool-routing"]))
    assert (settings.port, settings.claim_lease_seconds, settings.pool_routing) == (9100, 5.0, True)
    assert StandinSettings().republish_delay_seconds == 30.0


def test_defaults_match_the_noetl_server() -> None:
    settings = StandinSettings()
    assert (settings.claim_lease_seconds, settings.worker_heartbeat_stale_seconds) == (120.0, 30.0)
    assert (settings.claim_retry_after_seconds, settings.healthy_worker_hard_timeout_seconds) == (2.0, 1800.0)
    assert (settings.batch_max_events, settings.batch_max_payload_bytes) == (256, 2 * 1024 * 1024)
    assert (settings.nats_stream, settings.nats_subject, settings.port) == ("NOETL_COMMANDS", "noetl.commands", 8082)
