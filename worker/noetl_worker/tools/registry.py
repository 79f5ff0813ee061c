"""The default registry: every tool kind the worker runs, registered lazily by ``"module:Class"``.

Nothing heavy is imported here. A kind's module (and with it duckdb, asyncpg, pyarrow, nats or httpx)
is imported the first time a command of that kind arrives, so an idle worker stays small.
"""

from __future__ import annotations

from noetl_worker.tools.base import ToolRegistry

__all__ = ["DEFAULT_TOOLS", "default_registry"]

# kind -> "module:Class". Kept as data so that docs and tests can enumerate the kinds without importing them.
DEFAULT_TOOLS: dict[str, str] = {
    "noop": "noetl_worker.tools.noop:NoopTool",
    "http": "noetl_worker.tools.http:HttpTool",
    "postgres": "noetl_worker.tools.postgres:PostgresTool",
    "duckdb": "noetl_worker.tools.duckdb:DuckDBTool",
    "ducklake": "noetl_worker.tools.duckdb:DuckLakeTool",
    "python": "noetl_worker.tools.python:PythonTool",
    "shell": "noetl_worker.tools.shell:ShellTool",
    "nats": "noetl_worker.tools.nats:NatsTool",
    "mcp": "noetl_worker.tools.mcp:McpTool",
    "result_fetch": "noetl_worker.tools.result_fetch:ResultFetchTool",
    "task_sequence": "noetl_worker.tools.task_sequence:TaskSequenceTool",
    "secrets": "noetl_worker.tools.secrets:SecretsTool",
    "rhai": "noetl_worker.tools.rhai:RhaiTool",
}


def default_registry() -> ToolRegistry:
    """A fresh registry holding every kind of :data:`DEFAULT_TOOLS` (nothing instantiated yet)."""
    registry = ToolRegistry()
    for kind, target in DEFAULT_TOOLS.items():
        registry.register(kind, target)
    return registry
