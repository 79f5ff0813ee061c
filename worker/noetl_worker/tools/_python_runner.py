"""The child side of the ``python`` tool: run one step's code in a fresh interpreter and report ``result``.

Executed as a script (``python -I _python_runner.py``), never imported by the worker. Reads one JSON
request from stdin — ``{code, globals, context, args, input, marker, filename}`` — runs the code with those
globals, and prints one final line ``<marker><json>`` on stdout: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": ..., "error_type": ...}`` (the traceback goes to stderr). Standard library only, so
that start-up stays cheap.
"""

from __future__ import annotations

import json
import math
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# Start-up cost is the price of every python command: modules the common case does not need (inspect,
# base64, traceback, datetime/decimal/uuid) are imported only when used. A value can only be a datetime,
# Decimal or UUID if user code imported that module, so those checks look in sys.modules.
_TEXT_TYPES = (("datetime", ("datetime", "date", "time"), "isoformat"), ("decimal", ("Decimal",), None),
               ("uuid", ("UUID",), None))  # fmt: skip


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Make ``value`` JSON: containers recursively, precise types as text, never a silent null."""
    if depth > 100:
        return repr(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        import base64  # noqa: PLC0415

        return base64.b64encode(bytes(value)).decode("ascii")
    for module_name, type_names, method in _TEXT_TYPES:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(value, tuple(getattr(module, n) for n in type_names)):
            return getattr(value, method)() if method else str(value)
    return str(value)


def _call_main(main: Callable[..., Any], args: dict[str, Any]) -> Any:
    """``def main(**args)``, ``def main(a, b)`` or ``def main()``: pass what the signature accepts."""
    import inspect  # noqa: PLC0415

    try:
        params = inspect.signature(main).parameters.values()
    except (TypeError, ValueError):
        return main(**args)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return main(**args)
    accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return main(**{k: v for k, v in args.items() if k in accepted})


def _report(marker: str, payload: dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stdout.write("\n" + marker + json.dumps(payload, allow_nan=False) + "\n")
    sys.stdout.flush()


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    sys.stdin = open("/dev/null")  # noqa: SIM115 - user code must not read the request
    marker = request["marker"]
    args = request["args"]
    namespace: dict[str, Any] = {"__name__": "__noetl_step__", "__builtins__": __builtins__}
    namespace.update(request["globals"])
    namespace.update(
        context=request["context"],
        args=args,
        input_data=request["input"],
        execution_id=request["context"].get("execution_id"),
        step=request["context"].get("step"),
    )
    try:
        code = compile(request["code"], request["filename"], "exec")
        exec(code, namespace)  # noqa: S102 - this process exists to run the step's code
        if "result" in namespace:
            result = namespace["result"]
        elif callable(namespace.get("main")):
            result = _call_main(namespace["main"], args)
        else:
            result = None
    except BaseException as exc:
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            result = namespace.get("result")
        else:
            import traceback  # noqa: PLC0415

            traceback.print_exc()
            message = str(exc) or type(exc).__name__
            if isinstance(exc, SystemExit):
                message = f"SystemExit: {exc.code}"
            _report(marker, {"ok": False, "error": message, "error_type": type(exc).__name__})
            sys.stderr.flush()
            return 1
    _report(marker, {"ok": True, "result": _jsonable(result)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
