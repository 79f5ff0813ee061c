"""Both engines behind one interface: the real Rhai engine (``rhai-oracle``) and ``noetl_worker.rhai``.

``RhaiOracle`` drives one long-lived ``rhai-oracle`` process (built by ``scripts/rhai-oracle`` from
``tools/rhai-oracle/``: the ``rhai`` crate at the version the seed worker pins, with the seed's
registered helpers) over JSON lines, so hundreds of scripts cost milliseconds each. ``ours`` runs the
same request through this pool's interpreter. Both return a :class:`Verdict`, the thing compared:
the result's JSON value and ``type_of`` name, or the error class (syntax, runtime, limit) and
position.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from noetl_worker.rhai import RhaiLimitError, RhaiLimits, RhaiRuntimeError, RhaiSyntaxError, run_script

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "rhai-oracle"

#: The limits every differential run uses unless a test says otherwise: the pool's defaults with a
#: smaller operation budget, so a generated endless loop is stopped in milliseconds by both engines.
DIFF_LIMITS = RhaiLimits(max_operations=200_000, max_wall_time=5.0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one engine made of one script."""

    ok: bool
    value: Any = None
    type: str = ""
    #: "syntax", "runtime" or "limit" when not ok.
    error_class: str = ""
    line: int | None = None
    column: int | None = None
    message: str = ""
    #: Rhai's error variant (``ErrorArithmetic``, ``ErrorParsing/BadInput``...); empty for ours.
    variant: str = ""
    #: Operations the run used, as each engine counts them.
    ops: int = 0

    def describe(self) -> str:
        if self.ok:
            return f"{self.type} {json.dumps(self.value)}"
        where = f" at {self.line}:{self.column}" if self.line else ""
        kind = f" {self.variant}" if self.variant else ""
        return f"{self.error_class} error{kind}{where}: {self.message}"


def limits_json(limits: RhaiLimits) -> dict[str, Any]:
    """The limits the oracle's engine can enforce (Rhai has no data-depth, output or source limit)."""
    wanted = ("max_operations", "max_call_depth", "max_expr_depth", "max_string_size", "max_array_size")
    values = {f.name: getattr(limits, f.name) for f in fields(limits)}
    return {name: values[name] for name in (*wanted, "max_map_size", "max_wall_time")}


def ours(script: str, scope: list[tuple[str, Any]] | None = None, limits: RhaiLimits = DIFF_LIMITS) -> Verdict:
    """Run ``script`` through this pool's interpreter."""
    try:
        outcome = run_script(script, scope or [], limits)
    except RhaiSyntaxError as exc:
        return Verdict(False, error_class="syntax", line=exc.line, column=exc.column, message=exc.reason)
    except RhaiLimitError as exc:
        return Verdict(False, error_class="limit", line=exc.line or None, column=exc.column or None, message=exc.reason)
    except RhaiRuntimeError as exc:
        return Verdict(False, error_class="runtime", line=exc.line, column=exc.column, message=exc.reason)
    return Verdict(True, value=outcome.value, type=outcome.value_type, ops=outcome.operations)


class OracleError(RuntimeError):
    """The oracle process failed (crashed, hung, or answered something unreadable)."""


class RhaiOracle:
    """One ``rhai-oracle`` process; :meth:`evaluate` sends a script and waits for its verdict."""

    def __init__(self, binary: Path, timeout: float = 30.0) -> None:
        self.binary = binary
        self.timeout = timeout
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    def _start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [str(self.binary)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env={"PATH": os.environ.get("PATH", "")},
        )
        self._lines = queue.Queue()
        lines = self._lines
        stdout = process.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="rhai-oracle-reader", daemon=True).start()
        return process

    def evaluate(
        self, script: str, scope: list[tuple[str, Any]] | None = None, limits: RhaiLimits | None = DIFF_LIMITS
    ) -> Verdict:
        """The real engine's verdict; ``limits=None`` runs with the seed's engine defaults."""
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        request = {"script": script, "scope": scope or [], "limits": None if limits is None else limits_json(limits)}
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            raise OracleError(f"rhai-oracle gave no answer within {self.timeout} s for {script!r}") from None
        if line is None:
            self.close()
            raise OracleError(f"rhai-oracle exited while evaluating {script!r}")
        reply = json.loads(line)
        if reply["ok"]:
            return Verdict(True, value=reply["value"], type=reply["type"], ops=reply["ops"])
        error = reply["error"]
        if error["class"] not in ("syntax", "runtime", "limit"):
            raise OracleError(f"rhai-oracle rejected the request: {error['message']}")
        variant = error["variant"] + (f"/{error['parse']}" if error.get("parse") else "")
        return Verdict(
            False,
            error_class=error["class"],
            line=error["line"],
            column=error["column"],
            message=error["message"],
            variant=variant,
            ops=reply["ops"],
        )

    def close(self) -> None:
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def build_oracle() -> Path:
    """Build (or reuse) the oracle with ``scripts/rhai-oracle``; returns the binary's path."""
    done = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OracleError(f"scripts/rhai-oracle failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])
