"""scripts/apt-install, the one way this project's scripts install Debian packages.

On a fresh machine `make test` builds its assets in parallel and `make e2e-kind` may run beside it, so
two installs can meet; apt lets one run at a time and apt 2.6's `apt-get update` fails at once on a held
lists lock. These tests hold apt's real lock (an fcntl lock on /var/lib/apt/lists/lock, the one apt
itself takes) and check that the helper waits instead of failing, and that it says what is missing
when it cannot install.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shipping.dockerfiles import REPO_ROOT

pytestmark = pytest.mark.unit

APT_INSTALL = REPO_ROOT / "scripts" / "apt-install"
APT_LISTS_LOCK = Path("/var/lib/apt/lists/lock")
NOT_A_PACKAGE = "noetl-no-such-package"

needs_apt = pytest.mark.skipif(
    shutil.which("dpkg-query") is None or shutil.which("apt-get") is None, reason="not a Debian-like machine"
)


def run(*args: str, env: dict[str, str] | None = None, user: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the helper; as ``user``, from stdin, because the checkout may not be readable by that user."""
    command: list[str] = [str(APT_INSTALL), *args]
    script: str | None = None
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "bash", "-s", "--", *args]
        script = APT_INSTALL.read_text()
    return subprocess.run(
        command, input=script, check=False, capture_output=True, text=True, timeout=120, cwd="/",
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture
def apt_lists_locked() -> Iterator[None]:
    """apt's lists lock held as another apt run would hold it."""
    if os.geteuid() != 0 or not APT_LISTS_LOCK.parent.is_dir():
        pytest.skip("holding apt's lock needs root on a Debian-like machine")
    with APT_LISTS_LOCK.open("a") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def test_without_a_package_name_it_says_so() -> None:
    result = run()
    assert (result.returncode, result.stderr.strip()) == (2, "apt-install: name at least one package")


@needs_apt
def test_installed_packages_are_left_alone_without_running_apt(apt_lists_locked: None) -> None:
    # With apt's lock held, any apt-get run would have to wait: an immediate success means none ran.
    started = time.monotonic()
    result = run("bash", "coreutils")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert time.monotonic() - started < 5


@needs_apt
def test_a_held_apt_lock_is_waited_for_and_then_named(apt_lists_locked: None) -> None:
    started = time.monotonic()
    result = run(NOT_A_PACKAGE, env={"APT_LOCK_WAIT": "4"})
    waited = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert waited >= 4, f"gave up after {waited:.1f} s instead of waiting for the lock:\n{result.stderr}"
    assert "Could not get lock /var/lib/apt/lists/lock" in result.stderr
    assert result.stderr.strip().endswith("apt-install: failed: apt-get update -qq")


@needs_apt
def test_without_root_it_names_the_missing_packages_in_one_line() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("dropping to another user needs root and setpriv")
    result = run("bash", NOT_A_PACKAGE, user=65534)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"apt-install: missing Debian packages: {NOT_A_PACKAGE} "
        "(installing them needs root and apt-get; install them, then rerun)"
    )
