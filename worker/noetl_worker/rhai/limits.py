"""Safety limits for one script run, with defaults sized for the small pure transforms playbooks use.

The Rust seed sets no limits (only Rhai's defaults apply: 64 nested calls, expression depth 64); a pool
must not let one script pin a worker slot forever or exhaust its memory, so every dimension that can
grow is bounded here. Each breach raises
:class:`~noetl_worker.rhai.errors.RhaiLimitError`, which scripts cannot catch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["DEFAULT_LIMITS", "RhaiLimits"]


@dataclass(frozen=True, slots=True)
class RhaiLimits:
    """Upper bounds for one run. All counts are inclusive maxima."""

    #: Evaluation steps (statements, loop iterations, calls, copied container elements).
    max_operations: int = 5_000_000
    #: Nested function/closure calls (recursion depth).
    max_call_depth: int = 48
    #: Nesting of expressions/blocks in the source (bounds the parser's and evaluator's recursion).
    max_expr_depth: int = 64
    #: Nesting of arrays/maps inside each other (bounds recursive copies and JSON conversion).
    max_data_depth: int = 128
    #: Characters in one string.
    max_string_size: int = 10 * 1024 * 1024
    #: Elements in one array.
    max_array_size: int = 1_000_000
    #: Properties in one object map.
    max_map_size: int = 1_000_000
    #: Wall-clock seconds for the whole run (checked every few hundred operations).
    max_wall_time: float = 10.0
    #: Characters of source code.
    max_source_size: int = 1024 * 1024
    #: Captured ``print``/``log`` lines; later lines are dropped and counted.
    max_log_lines: int = 10_000
    #: Total characters of captured output (one huge string printed in a loop must not become a
    #: gigabyte of stdout); the line that crosses it is cut, later ones dropped.
    max_output_size: int = 1024 * 1024

    def tightened(self, overrides: dict[str, Any]) -> RhaiLimits:
        """A copy where each given limit is lowered to ``overrides[name]`` (never raised above self).

        Unknown names and non-positive or non-numeric values raise ``ValueError`` naming the key.
        """
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                raise ValueError(f"unknown limit {name!r} (known: {', '.join(sorted(known))})")
            current = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"limit {name!r} must be a positive number, got {value!r}")
            if isinstance(current, int) and not isinstance(value, int):
                if not float(value).is_integer():
                    raise ValueError(f"limit {name!r} must be an integer, got {value!r}")
                changes[name] = min(current, int(value))
            else:
                changes[name] = min(current, value)
        return replace(self, **changes)


DEFAULT_LIMITS = RhaiLimits()
