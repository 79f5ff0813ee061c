"""The default registry: every kind registered, nothing heavy imported until a kind is used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from noetl_worker.tools.base import ToolNotFoundError
from noetl_worker.tools.registry import DEFAULT_TOOLS, default_registry

pytestmark = pytest.mark.unit

EXPECTED_KINDS = {
    "noop", "http", "postgres", "duckdb", "ducklake", "python", "shell", "nats", "mcp",
    "result_fetch", "task_sequence", "secrets", "rhai",
}  # fmt: skip


def test_every_kind_is_registered() -> None:
    assert set(default_registry().kinds()) == EXPECTED_KINDS


def test_an_unknown_kind_is_a_clear_tool_not_found() -> None:
    with pytest.raises(ToolNotFoundError, match=r"^Tool not found: snowflake$"):
        default_registry().get("snowflake")


@pytest.mark.parametrize("kind", sorted(EXPECTED_KINDS))
def test_each_kind_resolves_to_a_tool_of_that_kind(kind: str) -> None:
    tool = default_registry().get(kind)
    assert tool.kind == kind


def test_an_idle_registry_imports_no_heavy_library() -> None:
    probe = (
        "import sys, json, noetl_worker.tools.registry as r; r.default_registry(); "
        "heavy = ('duckdb', 'asyncpg', 'pyarrow', 'mcp', 'nats', 'httpx'); "
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == []
    assert all(":" in target for target in DEFAULT_TOOLS.values())
