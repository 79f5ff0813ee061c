"""Worker settings: the seed image's names and defaults, start-up errors that name the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from noetl_worker.settings import MASK, SettingsError, load_settings, settings_markdown

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_the_seed_image_defaults() -> None:
    settings = load_settings({})
    assert settings.nats_stream == "NOETL_COMMANDS"
    assert settings.nats_subject == "noetl.commands"
    assert settings.nats_consumer == "noetl_worker_pool"
    assert settings.filter_subject == "noetl.commands"
    assert settings.server_url == "http://noetl.noetl.svc.cluster.local:8082"
    assert settings.nats_url == "nats://nats.nats.svc.cluster.local:4222"
    assert settings.max_concurrent == 4
    assert settings.heartbeat_interval == 15
    assert settings.metrics_bind == "0.0.0.0:9090"
    assert settings.snowflake_epoch_ms == 1704067200000
    assert settings.dead_letter_subject == "noetl.deadletter.noetl_worker_pool"


def test_each_process_gets_its_own_worker_id_unless_set() -> None:
    assert load_settings({}).worker_id != load_settings({}).worker_id
    assert load_settings({"WORKER_ID": "pod-7"}).worker_id == "pod-7"


def test_blank_filter_subject_falls_back_to_the_subject() -> None:
    settings = load_settings({"NATS_SUBJECT": "noetl.commands", "NATS_FILTER_SUBJECT": "  "})
    assert settings.filter_subject == "noetl.commands"
    assert load_settings({"NATS_FILTER_SUBJECT": "noetl.commands.shared.>"}).filter_subject == "noetl.commands.shared.>"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WORKER_MAX_CONCURRENT": "four"}, "WORKER_MAX_CONCURRENT='four'"),
        ({"WORKER_MAX_CONCURRENT": "0"}, "WORKER_MAX_CONCURRENT='0'"),
        ({"WORKER_HEARTBEAT_INTERVAL": "-1"}, "WORKER_HEARTBEAT_INTERVAL"),
        ({"WORKER_METRICS_BIND": "localhost"}, "WORKER_METRICS_BIND='localhost': must be ip:port"),
        ({"WORKER_NATS_LAG_POLL_INTERVAL": "0"}, "WORKER_NATS_LAG_POLL_INTERVAL"),
        ({"NATS_URL": "http://nats:4222"}, "NATS_URL"),
        ({"NOETL_SERVER_URL": "noetl:8082"}, "NOETL_SERVER_URL"),
        ({"NOETL_SNOWFLAKE_NODE_ID": "1024"}, "NOETL_SNOWFLAKE_NODE_ID='1024': must be between 0 and 1023"),
        ({"WORKER_LOG_FORMAT": "xml"}, "WORKER_LOG_FORMAT"),
    ],
)
def test_an_invalid_value_is_a_startup_error_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert named in str(caught.value)


def test_every_invalid_variable_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"WORKER_MAX_CONCURRENT": "x", "WORKER_COMMAND_TIMEOUT": "soon"})
    assert "WORKER_MAX_CONCURRENT" in str(caught.value)
    assert "WORKER_COMMAND_TIMEOUT" in str(caught.value)


def test_secret_values_are_never_echoed_in_errors() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"NATS_TLS_CERT": "/c.pem", "NATS_PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in str(caught.value)
    assert "NATS_TLS_CERT and NATS_TLS_KEY must be set together" in str(caught.value)


def test_url_credentials_are_decoded_and_stripped_and_env_credentials_win() -> None:
    settings = load_settings({"NATS_URL": "nats://us%40er:p%3Ass@nats:4222"})
    assert settings.nats_servers == ["nats://nats:4222"]
    assert settings.nats_credentials() == ("us@er", "p:ss")
    both = load_settings({"NATS_URL": "nats://a:b@nats:4222", "NATS_USER": "env", "NATS_PASSWORD": "pw"})
    assert both.nats_credentials() == ("env", "pw")


def test_masked_config_hides_secrets_and_url_credentials() -> None:
    settings = load_settings(
        {"NATS_URL": "nats://user:topsecret@nats:4222", "NOETL_API_TOKEN": "tok-123", "NATS_TOKEN": "nt-9"}
    )
    masked = settings.masked()
    assert masked["NOETL_API_TOKEN"] == MASK
    assert masked["NATS_TOKEN"] == MASK
    assert masked["NATS_URL"] == f"nats://{MASK}@nats:4222"
    assert "topsecret" not in repr(masked)
    assert masked["NATS_STREAM"] == "NOETL_COMMANDS"


def test_config_subcommand_prints_masked_config_and_bad_config_exits_2_without_traceback() -> None:
    env = {"PATH": "/usr/bin:/bin", "NOETL_API_TOKEN": "tok-abc", "WORKER_ID": "w-1"}
    ok = subprocess.run(
        [sys.executable, "-m", "noetl_worker", "config"], env=env, capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "WORKER_ID=w-1" in ok.stdout
    assert f"NOETL_API_TOKEN={MASK}" in ok.stdout
    assert "tok-abc" not in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "noetl_worker", "config"],
        env={**env, "WORKER_MAX_CONCURRENT": "lots"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "WORKER_MAX_CONCURRENT='lots'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_docs_worker_md_carries_the_generated_environment_table() -> None:
    doc = (REPO / "docs" / "worker.md").read_text()
    assert settings_markdown() in doc, "docs/worker.md is stale: run `python -m noetl_worker.settings --markdown`"
