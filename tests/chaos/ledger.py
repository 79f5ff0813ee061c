"""The attempt ledger: one PostgreSQL row per execution attempt of a chaos command.

Every command of a chaos job runs the real ``postgres`` tool, whose first statement inserts a row naming
the step. The row is committed before the tool reports anything, so a tool that ran and whose worker died
before its outcome was accepted still leaves its row: double execution is counted, not guessed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg

__all__ = ["AttemptLedger"]


@dataclass(frozen=True)
class AttemptLedger:
    """A table ``chaos_<tag>(id, step, at)`` in the database at ``dsn``."""

    dsn: str
    table: str

    @classmethod
    async def create(cls, dsn: str) -> AttemptLedger:
        ledger = cls(dsn, f"chaos_{uuid.uuid4().hex[:12]}")
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(
                f"CREATE TABLE {ledger.table} (id bigserial PRIMARY KEY, step text NOT NULL, "
                "at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
        finally:
            await connection.close()
        return ledger

    def command(self, step: str, *, hold_seconds: float) -> dict[str, Any]:
        """A job command whose tool records its attempt, then holds the slot for ``hold_seconds``.

        The hold widens the window between "the tool ran" and "the outcome was accepted", which is the
        window a SIGKILL must hit to cause an (unavoidable) second run.
        """
        # The insert runs (and commits) as its own statement before the hold. Step names are limited to
        # the job-spec alphabet (letters, digits, ``_.:-``), so the literal needs no escaping.
        query = f"INSERT INTO {self.table} (step) VALUES ('{step}'); SELECT pg_sleep($1::float8)"
        return {
            "name": step,
            "kind": "postgres",
            "tool_config": {"connection_string": self.dsn, "query": query, "params": [hold_seconds]},
        }

    async def attempts(self) -> Counter[str]:
        """Rows per step."""
        connection = await asyncpg.connect(self.dsn)
        try:
            rows = await connection.fetch(f"SELECT step, count(*) AS n FROM {self.table} GROUP BY step")
        finally:
            await connection.close()
        return Counter({row["step"]: int(row["n"]) for row in rows})

    async def drop(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            await connection.execute(f"DROP TABLE IF EXISTS {self.table}")
        finally:
            await connection.close()
