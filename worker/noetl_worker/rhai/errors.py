"""Errors raised by the Rhai-subset interpreter.

Every failure a script can cause surfaces as a :class:`RhaiError` subclass whose message starts with the
source position (``line 3, column 7: ...``), so that a playbook author can find the offending spot
without a Python traceback. Nothing else escapes :func:`noetl_worker.rhai.run_script`.
"""

from __future__ import annotations

__all__ = ["RhaiError", "RhaiLimitError", "RhaiRuntimeError", "RhaiSyntaxError", "caught_error_map"]


class RhaiError(Exception):
    """Base class: a script could not be parsed or evaluated.

    ``line``/``column`` are 1-based; 0 means "no position" (e.g. a limit hit before evaluation began).
    ``reason`` is the message without the position prefix.
    """

    def __init__(self, reason: str, line: int = 0, column: int = 0) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        prefix = f"line {line}, column {column}: " if line > 0 else ""
        super().__init__(prefix + reason)


class RhaiSyntaxError(RhaiError):
    """The source does not parse, or uses syntax outside the supported subset."""


class RhaiRuntimeError(RhaiError):
    """Evaluation failed: type mismatch, unknown variable or function, overflow, ``throw``...

    These are catchable by ``try``/``catch`` in the script; ``value`` is what the ``catch`` variable
    receives (the thrown value for ``throw``, otherwise the message string, as in Rhai).
    """

    def __init__(
        self, reason: str, line: int = 0, column: int = 0, *, thrown: bool = False, value: object = None
    ) -> None:
        super().__init__(reason, line, column)
        self.thrown = thrown
        self.value: object = value if thrown else reason


class RhaiLimitError(RhaiError):
    """A safety limit was exceeded (operations, call depth, data size, wall time). Not catchable."""


# Rhai names the kind of a system error in the `error` field of the map `catch (err)` receives; the
# reasons this interpreter words itself are matched to those names by their opening words.
_ERROR_KINDS = (
    ("division by zero", "ErrorArithmetic"),
    ("arithmetic overflow", "ErrorArithmetic"),
    ("function not found", "ErrorFunctionNotFound"),
    ("function '", "ErrorFunctionNotFound"),
    ("host function", "ErrorFunctionNotFound"),
    ("variable '", "ErrorVariableNotFound"),
    ("array index", "ErrorArrayBounds"),
    ("string index", "ErrorStringBounds"),
    ("property '", "ErrorPropertyNotFound"),
    ("cannot ", "ErrorAssignmentToConstant"),
)


def caught_error_map(err: RhaiRuntimeError) -> dict[str, object]:
    """What ``catch (err)`` binds for an error the script did not ``throw``: as in Rhai, an object map
    with the error's kind (``error``), its ``message`` (this interpreter's wording) and, when known,
    its ``line`` and ``position``."""
    kind = next((name for prefix, name in _ERROR_KINDS if err.reason.startswith(prefix)), "ErrorMismatchDataType")
    caught: dict[str, object] = {"error": kind, "message": err.reason}
    if err.line > 0:
        caught["line"] = err.line
        caught["position"] = err.column
    return caught
