"""bench's own servers (the fast control plane, the HTTP peer), started for a test as the harness starts them."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def serving(module: str, *args: str) -> Iterator[str]:
    """Run ``python -m <module> --port 0 <args>``; yield its URL once it has announced its port."""
    process = subprocess.Popen([sys.executable, "-m", module, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        yield f"http://127.0.0.1:{int(line.split()[-1])}"
    finally:
        process.terminate()
        process.wait(10)
