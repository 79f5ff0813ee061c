"""The child side of the ``python`` tool: run one step's code in a fresh process and report ``result``.

Executed as a script, never imported by the worker; standard library only, so that start-up stays cheap.

``python -I _python_runner.py`` (cold mode) reads one JSON request from stdin — ``{code, globals, context,
args, input, marker, filename}`` — runs the code with those globals, and prints one final line
``<marker><json>`` on stdout: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...,
"error_type": ...}`` (the traceback goes to stderr).

``python -I _python_runner.py --serve <fd>`` (warm mode) is a fork server: it waits on the Unix
``SOCK_SEQPACKET`` socket ``<fd>`` for ``{"id", "env", "cwd"}`` messages carrying three file descriptors
(the child's stdin, stdout, stderr), forks one child per message — a new session, those descriptors as
0/1/2, exactly the environment given — which then runs the cold mode's ``main()``. It answers
``{"id", "pid"}`` after each fork and ``{"pid", "code"}`` when a child exits. The server itself never runs
user code, so every command still gets a fresh process; only the interpreter start-up is saved.
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
_devnull: Any = None  # set by serve(): the /dev/null reader its children inherit
_server_environment: dict[str, str] = {}  # set by serve(): its own environment, which its children start with

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
    # User code must not read the request. A fork server's child reuses the server's /dev/null reader: every
    # object a forked child allocates costs copy-on-write page faults, and a new text file is dozens of them.
    sys.stdin = _devnull if _devnull is not None else open("/dev/null")  # noqa: SIM115
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
            _print_user_traceback(exc, request["filename"])
            message = str(exc) or type(exc).__name__
            if isinstance(exc, SystemExit):
                message = f"SystemExit: {exc.code}"
            _report(marker, {"ok": False, "error": message, "error_type": type(exc).__name__})
            sys.stderr.flush()
            return 1
    _report(marker, {"ok": True, "result": _jsonable(result)})
    return 0


def _print_user_traceback(exc: BaseException, filename: str) -> None:
    """The traceback of the step's own code: its frames and the error, never this runner's frames."""
    import traceback  # noqa: PLC0415

    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next  # skip the runner's frames (exec, _call_main) down to the first frame of the step
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))


def _set_environment(os: Any, env: dict[str, str]) -> None:
    """Make the environment exactly ``env``, touching only what differs: usually nothing, since the server
    starts with the same clean environment a step gets (each ``putenv`` in a fork is page faults)."""
    if env == _server_environment:  # one dict comparison; reading os.environ decodes every entry
        return
    for name in [name for name in os.environ if name not in env]:
        del os.environ[name]
    for name, value in env.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _child(request: dict[str, Any], fds: list[int], closing: list[int]) -> None:
    """In the forked child: become the command's own process (session, stdio, environment), run, exit."""
    # _signal, not signal: the signal module's wrapper converts the old handler to an enum member, and
    # the enum machinery it touches is tens of copy-on-write page faults in a forked child.
    import _signal  # type: ignore[import-not-found]  # noqa: PLC0415 - no stub; the C module under signal
    import os  # noqa: PLC0415

    code = 1
    try:
        os.setsid()
        _signal.set_wakeup_fd(-1)
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        for fd in closing:
            os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        _set_environment(os, request["env"])
        if request.get("cwd"):
            os.chdir(request["cwd"])
        code = main()
    except BaseException:  # the child must never return into the server loop
        import traceback  # noqa: PLC0415

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(control_fd: int) -> int:
    """The fork server loop (see the module docstring). Returns when the worker closes the socket."""
    import contextlib  # noqa: PLC0415
    import os  # noqa: PLC0415
    import select  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import socket  # noqa: PLC0415

    global _devnull  # noqa: PLW0603 - set once, before the first fork; main() reads it in the children
    control = socket.socket(fileno=control_fd)
    _devnull = open(os.devnull)  # noqa: SIM115 - every child's stdin after it read its request
    _server_environment.update(os.environ)
    # Warm the compiler once here: the first compile() in a process sets up state that a forked child
    # would otherwise build for itself in copy-on-write memory, every time (about 2.5 ms of a child's CPU).
    compile("result = None", "<warm-up>", "exec")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD writes to the wakeup fd
    children: set[int] = set()

    def send(payload: dict[str, Any]) -> None:
        control.send(json.dumps(payload).encode())

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            send({"pid": pid, "code": os.waitstatus_to_exitcode(status)})

    try:
        while True:
            readable, _, _ = select.select([control.fileno(), wake_r], [], [])
            if wake_r in readable:
                os.read(wake_r, 4096)
                reap()
            if control.fileno() not in readable:
                continue
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 3)
            if not message:
                return 0  # the worker is gone (or closed us): stop serving
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                _child(request, list(fds), [control.fileno(), wake_r, wake_w])
            for fd in fds:
                os.close(fd)
            children.add(pid)
            send({"id": request["id"], "pid": pid})
    finally:
        for pid in children:  # commands still running when the worker left: take them down with us
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        sys.exit(serve(int(sys.argv[2])))
    sys.exit(main())
