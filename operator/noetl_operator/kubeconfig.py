"""Where the API server is and how to authenticate: the in-cluster account, or a kubeconfig file.

Read directly (the kubeconfig is YAML; the in-cluster account is two environment variables and two files)
rather than through the ``kubernetes`` package: importing that package costs the operator ~30 MiB of RSS
and over a second of start-up, and kopf imports it whenever it is installed. Supported: bearer tokens
(inline or ``tokenFile``), client certificates and CAs as files or ``*-data``, and
``insecure-skip-tls-verify``. Exec and auth-provider plugins are refused with a message that says so.

A token kept in a file (the in-cluster account's projected token, a kubeconfig ``tokenFile``) is re-read
whenever the file changes and after any 401, as client-go does: bound ServiceAccount tokens expire and the
kubelet rotates the file, so a token read once at start-up stops working after an hour or so. Everything
that can be checked before talking to the server (files, PEM material, the server URL) is checked by
:func:`load_connection`, so a bad kubeconfig fails at start-up with one line instead of in a retry loop.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yaml

from noetl_operator.manifests import yaml_problem

__all__ = ["IN_CLUSTER_ACCOUNT", "KubeConfigError", "KubeConnection", "TokenFile", "load_connection"]

IN_CLUSTER_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(ValueError):
    """No usable credentials: the message names the file, context or field at fault."""


class TokenFile:
    """A bearer token in a file that its issuer rewrites (the kubelet's projected token, a ``tokenFile``).

    :meth:`current` re-reads the file when its identity, size or modification time changed (one ``stat`` per
    request, far cheaper than a request with a dead token); :meth:`reload` re-reads it unconditionally, for
    a 401 after a rewrite that left all three unchanged (an in-place rewrite within the file system's
    timestamp granularity). A file that cannot be read or is empty later keeps the last good token, as
    client-go does: the kubelet replaces it atomically, so that is a transient state.
    """

    def __init__(self, path: Path, where: str, what: str) -> None:
        self.path = path
        self._where, self._what = where, what
        self._lock = threading.Lock()  # kopf runs sync handlers in threads; requests stay in the loop
        stamp, token = self._read()
        if not token:
            raise KubeConfigError(f"{where}: {what} {path} is empty")
        self._stamp, self._token = stamp, token

    def _read(self) -> tuple[tuple[int, int, int, int], str]:
        try:
            info = os.stat(self.path)
            token = self.path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KubeConfigError(f"{self._where}: cannot read {self._what} {self.path}: {error.strerror}") from None
        return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns), token

    def current(self) -> str:
        """The token, re-read if the file changed since it was last read."""
        try:
            info = os.stat(self.path)
        except OSError:
            return self._token
        if (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) != self._stamp:
            self.reload()
        return self._token

    def reload(self) -> str:
        """Re-read the file now; the token (the previous one if the file is unreadable or empty)."""
        with self._lock:
            try:
                stamp, token = self._read()
            except KubeConfigError:
                return self._token
            if token:
                self._stamp, self._token = stamp, token
            return self._token


@dataclass(frozen=True)
class KubeConnection:
    """Where the API server is and how to authenticate to it (shared with kopf's login)."""

    server: str
    #: A fixed bearer token (inline in a kubeconfig).
    token: str | None = None
    #: A bearer token its issuer rotates; used instead of ``token`` when set.
    token_file: TokenFile | None = None
    ca_path: str | None = None
    certificate_path: str | None = None
    private_key_path: str | None = None
    insecure: bool = False
    #: PEM material given inline in a kubeconfig (``*-data``); mutually exclusive with the paths.
    ca_data: bytes | None = None
    certificate_data: bytes | None = None
    private_key_data: bytes | None = None

    def bearer_token(self) -> str | None:
        """The bearer token to send now (re-read from its file if that changed)."""
        return self.token_file.current() if self.token_file is not None else self.token

    def headers(self) -> dict[str, str]:
        """Authentication headers for a request sent now."""
        token = self.bearer_token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def open_session(self, *, connections: int, timeout: float | None = None) -> aiohttp.ClientSession:
        """An HTTP session to the API server with at most ``connections`` connections (call in a running loop).

        Bounded on purpose: each idle TLS connection holds ~130 KiB of buffers, and 200 pools reconciling at
        once would otherwise open 200 of them. Every request carries the token current at that moment; a 401
        with a token from a file re-reads the file and, if the token changed, sends the request once more.
        """
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(limit=connections, ssl=self.ssl_context()),
            middlewares=(self._authenticate,),
        )

    async def _authenticate(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        token = self.bearer_token()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = await handler(request)
        if response.status != 401 or self.token_file is None:
            return response
        fresh = self.token_file.reload()
        if fresh == token:
            return response  # the file holds the token the server refused: nothing better to send
        # A 401 means the server did nothing with the request, so sending it again is safe even for a POST.
        await response.read()
        response.release()
        request.headers["Authorization"] = f"Bearer {fresh}"
        return await handler(request)

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
    except (OSError, UnicodeDecodeError) as error:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {error}") from None
    except yaml.YAMLError as error:
        raise KubeConfigError(f"kubeconfig {path}: {yaml_problem(error)}") from None
    if not isinstance(document, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a YAML mapping")
    return _from_kubeconfig(document, path, context)


def _in_cluster(env: Mapping[str, str], account: Path) -> KubeConnection:
    host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
    # The kubelet rotates this projected token (bound tokens expire): it is re-read, never kept.
    token = TokenFile(account / "token", "in-cluster", "the ServiceAccount token")
    # IPv6 service addresses need brackets in a URL.
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    ca = account / "ca.crt"
    return _checked(
        KubeConnection(server=server, token_file=token, ca_path=str(ca) if ca.exists() else None), "in-cluster"
    )


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
    return _checked(
        KubeConnection(
            server=str(cluster["server"]).rstrip("/"),
            token=str(token) if token else None,
            # An inline token wins over tokenFile, as in client-go.
            token_file=TokenFile(Path(token_file), f"kubeconfig {path}", "tokenFile")
            if token_file and not token
            else None,
            ca_path=file("certificate-authority", cluster),
            ca_data=data("certificate-authority-data", cluster),
            certificate_path=file("client-certificate", user),
            certificate_data=data("client-certificate-data", user),
            private_key_path=file("client-key", user),
            private_key_data=data("client-key-data", user),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        ),
        f"kubeconfig {path}",
    )


def _checked(connection: KubeConnection, where: str) -> KubeConnection:
    """``connection`` once its server URL and TLS material are usable; else a :class:`KubeConfigError`."""
    parts = urlsplit(connection.server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise KubeConfigError(f"{where}: server {connection.server!r} is not an http(s):// URL with a host")
    files = {
        "certificate-authority": connection.ca_path,
        "client-certificate": connection.certificate_path,
        "client-key": connection.private_key_path,
    }
    for key, file in files.items():
        if file is None:
            continue
        try:
            Path(file).read_bytes()
        except OSError as error:
            # ssl's own error would not name the file.
            raise KubeConfigError(f"{where}: cannot read {key} {file}: {error.strerror}") from None
    try:
        connection.ssl_context()
    except (OSError, ssl.SSLError, ValueError) as error:
        raise KubeConfigError(
            f"{where}: the certificate-authority or client certificate is not usable: {error}"
        ) from None
    return connection


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
