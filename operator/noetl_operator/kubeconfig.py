"""Where the API server is and how to authenticate: the in-cluster account, or a kubeconfig file.

Read directly (the kubeconfig is YAML; the in-cluster account is two environment variables and two files)
rather than through the ``kubernetes`` package: importing that package costs the operator ~30 MiB of RSS
and over a second of start-up, and kopf imports it whenever it is installed. Supported: bearer tokens
(inline or ``tokenFile``), client certificates and CAs as files or ``*-data``, and
``insecure-skip-tls-verify``. Exec and auth-provider plugins are refused with a message that says so.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

__all__ = ["IN_CLUSTER_ACCOUNT", "KubeConfigError", "KubeConnection", "load_connection"]

IN_CLUSTER_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(ValueError):
    """No usable credentials: the message names the file, context or field at fault."""


@dataclass(frozen=True)
class KubeConnection:
    """Where the API server is and how to authenticate to it (shared with kopf's login)."""

    server: str
    token: str | None = None
    ca_path: str | None = None
    certificate_path: str | None = None
    private_key_path: str | None = None
    insecure: bool = False
    #: PEM material given inline in a kubeconfig (``*-data``); mutually exclusive with the paths.
    ca_data: bytes | None = None
    certificate_data: bytes | None = None
    private_key_data: bytes | None = None

    def headers(self) -> dict[str, str]:
        """Authentication headers."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def open_session(self, *, connections: int, timeout: float | None = None) -> aiohttp.ClientSession:
        """An HTTP session to the API server with at most ``connections`` connections (call in a running loop).

        Bounded on purpose: each idle TLS connection holds ~130 KiB of buffers, and 200 pools reconciling at
        once would otherwise open 200 of them.
        """
        return aiohttp.ClientSession(
            headers=self.headers(),
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(limit=connections, ssl=self.ssl_context()),
        )

    def ssl_context(self) -> ssl.SSLContext | bool:
        """TLS settings for aiohttp: ``False`` disables verification, ``True`` uses the system CAs."""
        if not self.server.startswith("https"):
            return True
        if self.insecure:
            return False
        context = ssl.create_default_context(
            cafile=self.ca_path, cadata=self.ca_data.decode() if self.ca_data else None
        )
        if self.certificate_path:
            context.load_cert_chain(self.certificate_path, self.private_key_path)
        elif self.certificate_data and self.private_key_data:
            _load_cert_chain_from_memory(context, self.certificate_data, self.private_key_data)
        return context


def load_connection(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    in_cluster_account: Path = IN_CLUSTER_ACCOUNT,
) -> KubeConnection:
    """The in-cluster account when running in a pod (and no file or context was asked for), else a kubeconfig.

    The kubeconfig is ``kubeconfig``, else the first file of ``$KUBECONFIG``, else ``~/.kube/config``.
    Raises :class:`KubeConfigError` naming what is missing or unsupported.
    """
    env = os.environ if environ is None else environ
    if kubeconfig is None and context is None and env.get("KUBERNETES_SERVICE_HOST"):
        return _in_cluster(env, in_cluster_account)
    path = Path(kubeconfig or (env.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config")).expanduser()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {error}") from None
    if not isinstance(document, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a YAML mapping")
    return _from_kubeconfig(document, path, context)


def _in_cluster(env: Mapping[str, str], account: Path) -> KubeConnection:
    host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
    token_path = account / "token"
    try:
        token = token_path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise KubeConfigError(f"in-cluster: cannot read the ServiceAccount token {token_path}: {error}") from None
    # IPv6 service addresses need brackets in a URL.
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    ca = account / "ca.crt"
    return KubeConnection(server=server, token=token, ca_path=str(ca) if ca.exists() else None)


def _named(document: dict[str, Any], section: str, name: str, path: Path) -> dict[str, Any]:
    for entry in document.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            inner = entry.get(section.removesuffix("s")) or {}
            if not isinstance(inner, dict):
                break
            return inner
    raise KubeConfigError(f"kubeconfig {path}: no {section.removesuffix('s')} named {name!r}")


def _from_kubeconfig(document: dict[str, Any], path: Path, context_name: str | None) -> KubeConnection:
    chosen = context_name or document.get("current-context")
    if not chosen:
        raise KubeConfigError(f"kubeconfig {path}: no context given and no current-context set")
    context = _named(document, "contexts", str(chosen), path)
    cluster = _named(document, "clusters", str(context.get("cluster")), path)
    user = _named(document, "users", str(context.get("user")), path) if context.get("user") else {}
    if not cluster.get("server"):
        raise KubeConfigError(f"kubeconfig {path}: cluster {context.get('cluster')!r} has no server")
    for plugin in ("exec", "auth-provider"):
        if plugin in user:
            raise KubeConfigError(
                f"kubeconfig {path}: user {context.get('user')!r} authenticates with an {plugin} plugin, which "
                "noetl-operator does not run; use a token or a client certificate"
            )
    base = path.parent

    def file(key: str, where: dict[str, Any]) -> str | None:
        value = where.get(key)
        # Relative paths in a kubeconfig are relative to the file itself.
        return str((base / str(value)).resolve()) if value else None

    def data(key: str, where: dict[str, Any]) -> bytes | None:
        value = where.get(key)
        if not value:
            return None
        try:
            return base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise KubeConfigError(f"kubeconfig {path}: {key} is not valid base64") from None

    token = user.get("token")
    token_file = file("tokenFile", user)
    if not token and token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KubeConfigError(f"kubeconfig {path}: cannot read tokenFile {token_file}: {error}") from None
    return KubeConnection(
        server=str(cluster["server"]).rstrip("/"),
        token=str(token) if token else None,
        ca_path=file("certificate-authority", cluster),
        ca_data=data("certificate-authority-data", cluster),
        certificate_path=file("client-certificate", user),
        certificate_data=data("client-certificate-data", user),
        private_key_path=file("client-key", user),
        private_key_data=data("client-key-data", user),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def _load_cert_chain_from_memory(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl loads a client certificate only from files: write them privately and remove them at once.
    with tempfile.TemporaryDirectory(prefix="noetl-operator-kube-") as directory:
        paths = []
        for name, content in (("tls.crt", cert), ("tls.key", key)):
            target = os.path.join(directory, name)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with contextlib.closing(os.fdopen(descriptor, "wb")) as handle:
                handle.write(content)
            paths.append(target)
        context.load_cert_chain(paths[0], paths[1])
