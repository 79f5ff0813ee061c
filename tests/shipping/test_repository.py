"""The checkout is self-contained: nothing in it points at a particular machine or outside the repository.

A fresh clone anywhere must pass its tests, so no tracked file may name a development machine's paths
(the work tree it was written in, home folders), and every relative Markdown link must resolve to a file
of the repository.
"""

from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path

import pytest

from tests.shipping.checkout import checkout_files
from tests.shipping.dockerfiles import REPO_ROOT
from tests.wire.capture import DEFAULT_CAPTURE_DIR

pytestmark = pytest.mark.unit

# Home folders and the development machine's work tree. `/root/.cache/uv` in a Dockerfile's cache mount and
# `"$root"/root/...` in the base-image script are paths inside an image, not on a machine, and are allowed.
# The folder names are joined here rather than spelled as paths, so this checker names no machine's path itself.
_MACHINE_FOLDERS = "|".join(("/" + "work/", "/" + r"home/\w", "/" + r"Users/\w", "/" + r"root/(?!\.cache/uv\b)"))
MACHINE_PATH = re.compile(rf"(?<![\w.])(?<!\$root\")(?:{_MACHINE_FOLDERS})")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
# Upstream material the project reads but does not ship; tests and docs must use the in-repo copy.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared/|shared/spec/|shared/schemas/")


@functools.cache
def tracked_text_files() -> list[Path]:
    listed = checkout_files()
    files = []
    for name in listed:
        path = REPO_ROOT / name
        # This file spells the patterns out; uv.lock holds only registry URLs.
        if name == "uv.lock" or path == Path(__file__).resolve() or not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        files.append(path)
    return files


def offending_lines(pattern: re.Pattern[str]) -> list[str]:
    found = []
    for path in tracked_text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()[:120]}")
    return found


def test_no_file_names_a_path_of_a_development_machine() -> None:
    assert offending_lines(MACHINE_PATH) == []


def test_nothing_refers_to_upstream_material_outside_the_repository() -> None:
    assert offending_lines(OUTSIDE_REFERENCE) == []


def test_every_relative_markdown_link_resolves_inside_the_repository() -> None:
    broken = []
    for path in tracked_text_files():
        if path.suffix != ".md":
            continue
        for target in MARKDOWN_LINK.findall(path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same page
            resolved = (path.parent / target.split("#", 1)[0]).resolve()
            if not resolved.is_relative_to(REPO_ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(REPO_ROOT)}: {target}")
    assert broken == []


def test_the_wire_capture_the_tests_read_is_part_of_the_repository() -> None:
    assert DEFAULT_CAPTURE_DIR.is_relative_to(REPO_ROOT)
    capture = DEFAULT_CAPTURE_DIR.relative_to(REPO_ROOT).as_posix() + "/"
    tracked = [name for name in checkout_files() if name.startswith(capture)]
    assert any(name.endswith("tiny/worker_http.jsonl") for name in tracked)


def test_docs_testing_names_the_test_paths_pytest_collects_by_default() -> None:
    configured = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    paths = configured["tool"]["pytest"]["ini_options"]["testpaths"]
    doc = " ".join((REPO_ROOT / "docs" / "testing.md").read_text(encoding="utf-8").split())
    assert f"Default `testpaths` (`pyproject.toml`): {', '.join(f'`{path}`' for path in paths)}" in doc
