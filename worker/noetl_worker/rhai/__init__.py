"""A sandboxed interpreter for the subset of the Rhai scripting language that NoETL playbooks use.

Pure Python, no I/O: the only effects a script has are its result and the log lines it emits. The
supported subset, what is not supported, and the limits are documented in ``docs/rhai.md``.

Entry point::

    outcome = run_script('let x = 40; x + n', [("n", 2)])
    outcome.value   # 42 (JSON-ready: maps → dicts, arrays → lists, unit → None)
    outcome.output  # [("print", "..."), ("info", "...")] in emission order

Every failure is a :class:`RhaiError` (:class:`RhaiSyntaxError`, :class:`RhaiRuntimeError` or
:class:`RhaiLimitError`) whose message starts with ``line L, column C:``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import RhaiError, RhaiLimitError, RhaiRuntimeError, RhaiSyntaxError
from .evaluator import Evaluator
from .limits import DEFAULT_LIMITS, RhaiLimits
from .parser import parse
from .values import Value, from_json, to_json_value, type_name

__all__ = [
    "DEFAULT_LIMITS",
    "RhaiError",
    "RhaiLimitError",
    "RhaiLimits",
    "RhaiOutcome",
    "RhaiRuntimeError",
    "RhaiSyntaxError",
    "run_script",
]


@dataclass(slots=True)
class RhaiOutcome:
    """The result of a successful run."""

    #: The value of the script's last statement, converted to JSON data.
    value: Any
    #: ``(level, text)`` per emitted line; level is print, debug, info, warn or error.
    output: list[tuple[str, str]] = field(default_factory=list)
    #: Lines not kept because :attr:`RhaiLimits.max_log_lines` was reached.
    dropped_lines: int = 0
    #: Operations the run used (see :attr:`RhaiLimits.max_operations`).
    operations: int = 0
    #: ``type_of`` of the script's last value before the JSON conversion (``"i64"``, ``"map"``...).
    value_type: str = "()"


def run_script(
    source: str,
    scope: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    limits: RhaiLimits = DEFAULT_LIMITS,
    *,
    cancel: threading.Event | None = None,
) -> RhaiOutcome:
    """Parse and evaluate ``source``.

    ``scope`` gives the initial variables in push order (a later entry with the same name shadows an
    earlier one); values must be JSON-shaped. Setting ``cancel`` stops the run at its next check with a
    :class:`RhaiLimitError`. Raises only :class:`RhaiError` subclasses.
    """
    deadline = time.monotonic() + limits.max_wall_time
    outcome = RhaiOutcome(value=None)

    budget = [limits.max_output_size]

    def emit(level: str, text: str) -> None:
        if len(outcome.output) >= limits.max_log_lines or budget[0] <= 0:
            outcome.dropped_lines += 1
            return
        if len(text) > budget[0]:
            text = text[: budget[0]] + " [truncated]"
        budget[0] -= len(text)
        outcome.output.append((level, text))

    pairs = scope.items() if isinstance(scope, Mapping) else scope
    variables: list[tuple[str, Value]] = []
    for name, data in pairs:
        try:
            variables.append((name, from_json(data, limits.max_data_depth)))
        except (TypeError, ValueError, RecursionError) as exc:
            raise RhaiRuntimeError(f"scope variable '{name}' cannot be passed to the script: {exc}") from None
    evaluator: Evaluator | None = None
    try:
        program = parse(source, limits)
        evaluator = Evaluator(program, limits, emit, deadline, cancel)
        value = evaluator.run(variables)
        outcome.value = to_json_value(value)
        outcome.value_type = type_name(value)
    except RhaiError:
        raise
    except RecursionError:
        # Deep nesting that the depth limits did not catch still must not crash the worker thread.
        raise RhaiLimitError("script is nested too deeply to evaluate") from None
    except MemoryError:
        raise RhaiLimitError("script ran out of memory") from None
    except Exception as exc:
        # A defect in the interpreter must still surface as a script error, never crash the worker.
        raise RhaiRuntimeError(f"internal interpreter error: {type(exc).__name__}: {exc}") from exc
    finally:
        if evaluator is not None:
            outcome.operations = evaluator.ops
    return outcome
