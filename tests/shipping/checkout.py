"""The files of this checkout that git tracks, or would track (new and not ignored): what ships."""

from __future__ import annotations

import functools
import subprocess

from tests.shipping.dockerfiles import REPO_ROOT

__all__ = ["checkout_files"]


@functools.cache
def checkout_files() -> tuple[str, ...]:
    """Paths relative to the repository root, as `git ls-files --cached --others --exclude-standard` lists them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return tuple(listed)
