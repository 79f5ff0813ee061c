"""The fork cost the python tool's target allows for: CPU to fork a warm interpreter, run a trivial step and
collect its result, measured here without any worker around it.

A fresh ``python -I`` (isolated, as the worker's fork server runs) imports ``json``, then ``count`` times:
forks; the child runs ``result = {"ok": True}``, writes the JSON result to a pipe and exits; the parent reads
it and reaps the child. CPU is the parent's plus its reaped children's (``getrusage``), divided by ``count``.
It is the floor any fork-per-command isolation pays, whatever the worker does around it.
"""

from __future__ import annotations

import json
import subprocess
import sys

__all__ = ["measure_fork_cost_ms"]

_SCRIPT = """
import json, os, resource, sys
count = int(sys.argv[1])
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
start = cpu()
for _ in range(count):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        scope = {}
        exec("result = {'ok': True}", scope)
        os.write(write_end, json.dumps(scope["result"]).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        json.loads(pipe.read())
    os.waitpid(pid, 0)
print(json.dumps({"cpu_s": cpu() - start}))
"""


def measure_fork_cost_ms(count: int = 200) -> float:
    """CPU milliseconds per fork + trivial step + exit + reap, in a fresh isolated interpreter."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", _SCRIPT, str(count)], capture_output=True, text=True, timeout=120, check=True
    )
    return float(json.loads(done.stdout)["cpu_s"]) / count * 1000
