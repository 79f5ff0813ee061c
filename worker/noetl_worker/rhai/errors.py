"""Errors raised by the Rhai-subset interpreter.

Every failure a script can cause surfaces as a :class:`RhaiError` subclass whose message starts with the
source position (``line 3, column 7: ...``), so that a playbook author can find the offending spot
without a Python traceback. Nothing else escapes :func:`noetl_worker.rhai.run_script`.
"""

from __future__ import annotations

__all__ = ["RhaiError", "RhaiLimitError", "RhaiRuntimeError", "RhaiSyntaxError"]


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
