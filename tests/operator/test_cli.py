"""``noetl-operator``: render is offline and exact, bad input is a clear message and exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from noetl_operator import __version__
from noetl_operator.cli import main

from tests.operator.conftest import EXAMPLES

pytestmark = pytest.mark.unit


def test_render_prints_every_child_of_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", str(EXAMPLES / "minimal.yaml")]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [doc["kind"] for doc in documents] == ["Deployment", "Service", "PodDisruptionBudget", "ScaledObject"]


def test_render_with_secrets_resolves_keychain_and_checksum(capsys: pytest.CaptureFixture[str]) -> None:
    example = str(EXAMPLES / "autoscaled-keychain.yaml")
    assert main(["render", "-f", example, "-s", example]) == 0
    captured = capsys.readouterr()
    deployment = next(doc for doc in yaml.safe_load_all(captured.out) if doc["kind"] == "Deployment")
    env = {
        entry["name"]: entry.get("value") for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["NOETL_KEYCHAIN_ENV_VARS"] == "DUFFEL_API_KEY,NOETL_FLIGHT_BEARER_TOKEN,NOETL_INTERNAL_API_TOKEN"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["noetl.io/secrets-checksum"].startswith("sha256:")
    assert captured.err == ""


def test_render_without_secrets_says_what_it_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", str(EXAMPLES / "autoscaled-keychain.yaml")]) == 0
    assert "without --secret" in capsys.readouterr().err


def test_invalid_pool_names_file_document_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: noetl.io/v1alpha1\nkind: NoetlWorkerPool\nmetadata: {name: p}\n"
        "spec: {image: {tag: '1'}, autoscaling: {minReplicas: 3, maxReplicas: 1, lagThreshold: -5}}\n",
        encoding="utf-8",
    )
    assert main(["render", "-f", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: document 1 (p): spec.autoscaling.lagThreshold: Input should be greater than or equal to 1" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [("a: [unclosed", "noetl-operator render:"), ("kind: ConfigMap\n", "no NoetlWorkerPool documents")],
)
def test_unusable_files_are_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(content, encoding="utf-8")
    assert main(["render", "-f", str(path)]) == 2
    assert expected in capsys.readouterr().err
    assert main(["render", "-f", str(tmp_path / "missing.yaml")]) == 2


def test_version_and_help_run_as_a_program() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "noetl_operator.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"noetl-operator {__version__}"
    helptext = subprocess.run(
        [sys.executable, "-m", "noetl_operator.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "render" in helptext.stdout
    assert "run" in helptext.stdout


def test_run_rejects_bad_settings_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOETL_OPERATOR_RESYNC_INTERVAL_SECONDS", "soon")
    assert main(["run", "--standalone"]) == 2
    assert "NOETL_OPERATOR_RESYNC_INTERVAL_SECONDS" in capsys.readouterr().err


def _kubeconfig(user: dict[str, object], cluster: dict[str, object]) -> str:
    return yaml.safe_dump(
        {
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )


BAD_KUBECONFIGS = [
    ("missing", None, [], "cannot read kubeconfig {file}: [Errno 2] No such file or directory"),
    ("yaml", "clusters: [unclosed", [], "kubeconfig {file}: line 1, column 20: expected ',' or ']'"),
    ("list", "- 1\n- 2\n", [], "kubeconfig {file} is not a YAML mapping"),
    ("context", _kubeconfig({"token": "t"}, {"server": "https://a:1"}), ["--context", "x"], "no context named 'x'"),
    ("exec", _kubeconfig({"exec": {"command": "aws"}}, {"server": "https://a:1"}), [], "an exec plugin"),
    (
        "ca",
        _kubeconfig({"token": "t"}, {"server": "https://a:1", "certificate-authority": "/nonexistent/ca.crt"}),
        [],
        "kubeconfig {file}: cannot read certificate-authority /nonexistent/ca.crt: No such file or directory",
    ),
]


@pytest.mark.parametrize(("case", "content", "extra", "expected"), BAD_KUBECONFIGS, ids=[c[0] for c in BAD_KUBECONFIGS])
def test_run_with_a_bad_kubeconfig_says_so_in_one_line_and_exits_2(
    tmp_path: Path, case: str, content: str | None, extra: list[str], expected: str
) -> None:
    config = tmp_path / "kubeconfig"
    if content is not None:
        config.write_text(content, encoding="utf-8")
    # Not in a pod, whatever machine runs the test.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KUBERNETES_", "NOETL_OPERATOR_"))}
    command = [sys.executable, "-m", "noetl_operator.cli", "run", "--standalone", "--kubeconfig", str(config), *extra]
    # Before the fix kopf retried every 60 s: a bounded wait turns that into a failure, not a hang.
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30, check=False)
    assert result.returncode == 2, case
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("noetl-operator run: ")
    assert expected.format(file=config) in lines[0]


def test_run_without_any_kubeconfig_names_the_default_it_tried(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KUBERNETES_", "NOETL_OPERATOR_"))}
    env.pop("KUBECONFIG", None)
    env["HOME"] = str(tmp_path)
    command = [sys.executable, "-m", "noetl_operator.cli", "run", "--standalone"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip() == (
        f"noetl-operator run: cannot read kubeconfig {tmp_path}/.kube/config: "
        f"[Errno 2] No such file or directory: '{tmp_path}/.kube/config'"
    )
