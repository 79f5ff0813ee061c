"""Credentials without the ``kubernetes`` package: a kubeconfig file, or the in-cluster ServiceAccount."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import pytest
import yaml
from noetl_operator.kubeconfig import KubeConfigError, load_connection

from tests.support.tls import Pki

pytestmark = pytest.mark.unit


def kubeconfig(tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any], **extra: Any) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
        **extra,
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_token_and_ca_file_come_from_the_kubeconfig(tmp_path: Path) -> None:
    ca = Pki.create(tmp_path / "pki").ca_cert
    path = kubeconfig(
        tmp_path, {"server": "https://10.0.0.1:6443/", "certificate-authority": str(ca)}, {"token": "secret-token"}
    )
    connection = load_connection(str(path))
    assert connection.server == "https://10.0.0.1:6443"
    assert (connection.token, connection.ca_path, connection.insecure) == ("secret-token", str(ca), False)
    assert connection.headers() == {"Authorization": "Bearer secret-token"}


def test_relative_paths_are_relative_to_the_kubeconfig_and_data_is_decoded(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n", encoding="utf-8")
    pki = Pki.create(tmp_path)
    pki.issue("client", client=True)
    pem = pki.ca_cert.read_bytes()
    path = kubeconfig(
        tmp_path,
        {"server": "https://k:6443", "certificate-authority-data": base64.b64encode(pem).decode()},
        {"tokenFile": "token", "client-certificate": "client.crt", "client-key": "client.key"},
    )
    connection = load_connection(str(path))
    assert connection.bearer_token() == "from-file"
    assert connection.ca_data == pem
    assert connection.certificate_path == str(tmp_path / "client.crt")
    assert connection.private_key_path == str(tmp_path / "client.key")


def test_the_context_is_chosen_by_name(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path,
        {"server": "https://a:1", "insecure-skip-tls-verify": True},
        {"token": "t"},
        **{"current-context": "nowhere"},
    )
    assert load_connection(str(path), "ctx").insecure is True
    with pytest.raises(KubeConfigError, match=r"no context named 'nowhere'"):
        load_connection(str(path))


@pytest.mark.parametrize(
    ("user", "cluster", "expected"),
    [
        ({"exec": {"command": "aws"}}, {"server": "https://a:1"}, "authenticates with an exec plugin"),
        ({"token": "t"}, {}, "cluster 'c' has no server"),
        ({"client-key-data": "%%%"}, {"server": "https://a:1"}, "client-key-data is not valid base64"),
        ({"token": "t"}, {"server": "a.example:6443"}, "server 'a.example:6443' is not an http"),
        ({"token": "t"}, {"server": "https://a:1", "certificate-authority": "nowhere.crt"}, r"cannot read certif"),
        ({"token": "t"}, {"server": "https://a:1", "certificate-authority-data": "bm90IGEgY2VydA=="}, "not usable"),
        ({"tokenFile": "absent-token"}, {"server": "https://a:1"}, r"cannot read tokenFile .*absent-token"),
    ],
)
def test_unusable_kubeconfigs_are_named_errors(
    tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any], expected: str
) -> None:
    with pytest.raises(KubeConfigError, match=expected):
        load_connection(str(kubeconfig(tmp_path, cluster, user)))


def test_an_empty_token_file_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n", encoding="utf-8")
    with pytest.raises(KubeConfigError, match=r"tokenFile .*token is empty"):
        load_connection(str(kubeconfig(tmp_path, {"server": "https://a:1"}, {"tokenFile": "token"})))


def test_a_rotated_token_file_is_read_again(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first", encoding="utf-8")
    connection = load_connection(str(kubeconfig(tmp_path, {"server": "https://a:1"}, {"tokenFile": "token"})))
    assert connection.headers() == {"Authorization": "Bearer first"}
    # The kubelet swaps in a new file atomically; the next request carries the new token.
    (tmp_path / "token.new").write_text("second", encoding="utf-8")
    os.replace(tmp_path / "token.new", token)
    assert connection.headers() == {"Authorization": "Bearer second"}
    # Mid-rotation (file briefly missing or empty) the last good token is kept.
    token.unlink()
    assert connection.bearer_token() == "second"
    token.write_text("", encoding="utf-8")
    assert connection.bearer_token() == "second"


def test_an_in_place_rewrite_that_looks_unchanged_is_read_on_reload(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("old-1", encoding="utf-8")
    connection = load_connection(str(kubeconfig(tmp_path, {"server": "https://a:1"}, {"tokenFile": "token"})))
    before = token.stat()
    token.write_text("new-2", encoding="utf-8")  # same inode and size
    os.utime(token, ns=(before.st_atime_ns, before.st_mtime_ns))  # within the file system's mtime granularity
    assert connection.bearer_token() == "old-1"
    assert connection.token_file is not None
    assert connection.token_file.reload() == "new-2"  # what a 401 triggers
    assert connection.bearer_token() == "new-2"


def test_an_inline_token_wins_over_a_token_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file", encoding="utf-8")
    path = kubeconfig(tmp_path, {"server": "https://a:1"}, {"token": "inline", "tokenFile": "token"})
    assert load_connection(str(path)).bearer_token() == "inline"


def test_a_missing_kubeconfig_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match=r"cannot read kubeconfig .*absent"):
        load_connection(str(tmp_path / "absent"))


def test_in_a_pod_the_service_account_is_used(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("pod-token", encoding="utf-8")
    Pki.create(tmp_path)  # writes ca.crt
    environ = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    connection = load_connection(environ=environ, in_cluster_account=tmp_path)
    assert (connection.server, connection.bearer_token()) == ("https://[fd00::1]:443", "pod-token")
    assert connection.ca_path == str(tmp_path / "ca.crt")


def test_in_a_pod_without_a_token_the_error_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match=r"in-cluster: cannot read the ServiceAccount token"):
        load_connection(environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, in_cluster_account=tmp_path)


def test_the_operator_does_not_depend_on_the_kubernetes_package() -> None:
    # Importing it costs ~30 MiB of RSS, and kopf imports it whenever it is installed.
    assert not any(requirement.startswith("kubernetes") for requirement in requires("noetl-operator") or [])
    blocked = "import sys; sys.modules['kubernetes'] = None; import noetl_operator.cli, noetl_operator.handlers"
    result = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
