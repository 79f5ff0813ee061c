"""The e2e harness's seams: which backend a configuration selects, and the errors bad configuration gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.harness.cluster import BACKENDS, BackendUnavailable, connect
from e2e.harness.pools import pool_manifest
from e2e.harness.settings import E2ESettings
from e2e.harness.waiting import WaitTimeout, wait_for

pytestmark = pytest.mark.unit


def test_with_nothing_configured_the_suite_runs_on_the_local_envtest_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NOETL_E2E_BACKEND", "NOETL_E2E_KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)

    assert E2ESettings().backend == "auto"
    assert {"auto", "docker", "envtest", "kubeconfig"} <= set(BACKENDS)


def test_the_docker_backend_without_a_daemon_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    with (
        pytest.raises(BackendUnavailable, match=r"^docker backend: no (docker CLI|Docker daemon answers)"),
        connect(E2ESettings(backend="docker")),
    ):
        pass


def test_an_unknown_backend_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"NOETL_E2E_BACKEND='minikube' is not a known backend \(known: auto, "):
        connect(E2ESettings(backend="minikube"))


def test_the_kubeconfig_backend_without_a_kubeconfig_says_what_to_set() -> None:
    with (
        pytest.raises(BackendUnavailable, match="set NOETL_E2E_KUBECONFIG"),
        connect(E2ESettings(backend="kubeconfig", kubeconfig=None)),
    ):
        pass


def test_a_test_pool_that_the_crd_model_rejects_fails_before_reaching_the_cluster() -> None:
    settings = E2ESettings(nats_url="nats://127.0.0.1:4222")

    with pytest.raises(ValueError, match=r"maxConcurrent|max_concurrent"):
        pool_manifest("bad", settings, max_concurrent=0)


def test_a_wait_that_times_out_names_what_it_waited_for_and_the_last_state() -> None:
    with pytest.raises(WaitTimeout, match=r"timed out after 0s waiting for the moon; last state: still night"):
        wait_for("the moon", lambda: None, timeout=0.05, poll=0.01, describe=lambda: "still night")
