"""OperatorSettings come from NOETL_OPERATOR_* variables; a bad value names the variable."""

from __future__ import annotations

import pytest
from noetl_operator.settings import OperatorSettings, SettingsError

pytestmark = pytest.mark.unit


def test_defaults_without_environment() -> None:
    settings = OperatorSettings.from_env({})
    assert settings.namespace is None
    assert settings.resync_interval_seconds == 30.0
    assert (settings.peering_name, settings.standalone) == ("noetl-operator", False)
    assert settings.liveness_endpoint == "http://0.0.0.0:8080/healthz"


def test_values_are_read_and_empty_ones_ignored() -> None:
    settings = OperatorSettings.from_env(
        {"NOETL_OPERATOR_NAMESPACE": "team-a", "NOETL_OPERATOR_STANDALONE": "true", "NOETL_OPERATOR_CONTEXT": ""}
    )
    assert (settings.namespace, settings.standalone, settings.context) == ("team-a", True, None)


@pytest.mark.parametrize(
    ("env", "value"),
    [("NOETL_OPERATOR_RESYNC_INTERVAL_SECONDS", "0.1"), ("NOETL_OPERATOR_STANDALONE", "perhaps")],
)
def test_invalid_values_name_the_variable(env: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{env}: "):
        OperatorSettings.from_env({env: value})
