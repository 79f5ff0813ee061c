"""Every shell script in the repository passes shellcheck.

shellcheck is a Debian package (`apt-get install -y shellcheck`), not a wheel: on a developer machine
without it the test skips with that hint; in CI (`CI=true`) it fails instead, so a CI machine that
lost the package cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.shipping.checkout import checkout_files
from tests.shipping.dockerfiles import REPO_ROOT

pytestmark = pytest.mark.unit

SHEBANGS = ("#!/bin/sh", "#!/bin/bash", "#!/usr/bin/env bash", "#!/usr/bin/env sh")


def shell_scripts() -> list[Path]:
    """Tracked (or new, not ignored) files that are shell scripts by extension or shebang."""
    listed = checkout_files()
    scripts = []
    for name in listed:
        path = REPO_ROOT / name
        if not path.is_file() or "/testdata/" in name:
            continue
        if name.endswith(".sh"):
            scripts.append(path)
            continue
        with path.open("rb") as handle:
            first = handle.readline(64).decode("utf-8", "replace").strip()
        if first.startswith(SHEBANGS):
            scripts.append(path)
    return sorted(scripts)


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        hint = "shellcheck is not installed: apt-get install -y shellcheck"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {hint}")
        pytest.skip(hint)
    return found


def test_the_shipping_scripts_are_found() -> None:
    names = {path.relative_to(REPO_ROOT).as_posix() for path in shell_scripts()}
    assert {"e2e/kind/run.sh", "scripts/image-install"} <= names


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_shellcheck_is_clean(script: Path) -> None:
    result = subprocess.run(
        [shellcheck(), "--external-sources", "--format=gcc", script.name],
        check=False,
        cwd=script.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
