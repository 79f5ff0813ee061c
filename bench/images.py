"""Image figures: size, the worker container's cold start to ready, its idle RSS, and what the heavy
optional dependencies cost when a tool first imports them.

    uv run python -m bench.images [--runs 5] [--out bench-results/images.json]

Needs the images (`make images`), a Docker daemon, and nats-server + the stand-in (started here on
loopback). Every container runs hardened as in its Pod (tests/support/containers.py). "Cold start to
ready" is from `docker run` to the first 200 of `/readyz` (registered with the control plane and
subscribed to the stream); the idle RSS is the worker's VmRSS after `--settle` seconds of idling.
Prints a table and writes JSON; a component that cannot start is a one-line error and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from noetl_standin.natsserver import running_nats_server

from tests.support.containers import HARDENED, IMAGES, docker, docker_unavailable, start_container_worker
from tests.support.standin import running_standin

__all__ = ["main"]

# In the worker image: VmRSS before and after importing each heavy optional dependency, in one process
# per module (the first import pays for the shared libraries the module loads).
_IMPORT_COST = """
import json, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
import noetl_worker.cli, noetl_worker.runtime.worker
before = rss()
__import__(sys.argv[1])
print(json.dumps({"module": sys.argv[1], "before_mib": before, "after_mib": rss()}))
"""
# Installed size per top-level distribution directory of the worker's venv, MiB.
_VENV_SIZES = """
import json, os, sys, sysconfig
root = sysconfig.get_paths()["purelib"]
sizes = {}
for entry in os.scandir(root):
    total = 0
    if entry.is_dir():
        for folder, _, files in os.walk(entry.path):
            total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    else:
        total = entry.stat().st_size
    sizes[entry.name] = total / 1048576
print(json.dumps(sizes))
"""


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _in_worker_image(script: str, *args: str) -> Any:
    argv = ["run", "--rm", "--network=none", *HARDENED, "--entrypoint=python3", IMAGES["worker"], "-c", script, *args]
    return json.loads(docker(*argv, timeout=120).stdout)


def measure(runs: int, settle: float) -> dict[str, Any]:
    sizes = {name: int(docker("image", "inspect", "--format", "{{.Size}}", tag).stdout) / 1048576
             for name, tag in IMAGES.items()}  # fmt: skip
    starts: list[float] = []
    rss: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-images-") as folder,
        running_nats_server() as nats,
        running_standin(nats_url=nats.url) as standin,
    ):
        for _ in range(runs):
            began = time.monotonic()
            worker = start_container_worker(Path(folder), nats.url, standin.url)
            try:
                while not _ready(worker.metrics_url):
                    if worker.process.poll() is not None or time.monotonic() - began > 120:
                        raise RuntimeError(f"worker container did not become ready:\n{worker.log()[-2000:]}")
                    time.sleep(0.02)
                starts.append(time.monotonic() - began)
                time.sleep(settle)
                rss.append(worker.container.rss_mib())
            finally:
                worker.terminate()
    imports = [_in_worker_image(_IMPORT_COST, module) for module in ("duckdb", "pyarrow", "asyncpg")]
    venv = _in_worker_image(_VENV_SIZES)
    return {
        "image_size_mib": sizes,
        "worker_cold_start_to_ready_s": {"runs": starts, "median": statistics.median(starts), "max": max(starts)},
        "worker_idle_rss_mib": {"runs": rss, "median": statistics.median(rss)},
        "import_cost_mib": {i["module"]: i["after_mib"] - i["before_mib"] for i in imports},
        "venv_top_mib": dict(sorted(venv.items(), key=lambda item: -item[1])[:8]),
    }


def render(result: dict[str, Any]) -> str:
    lines = ["image sizes (MiB):"]
    lines += [f"  {name:<10} {size:7.1f}" for name, size in result["image_size_mib"].items()]
    start = result["worker_cold_start_to_ready_s"]
    lines.append(f"worker cold start to ready: median {start['median']:.2f} s, max {start['max']:.2f} s")
    lines.append(f"worker idle RSS: median {result['worker_idle_rss_mib']['median']:.1f} MiB")
    lines.append("first import inside the worker image (RSS, MiB):")
    lines += [f"  {module:<8} +{cost:.1f}" for module, cost in result["import_cost_mib"].items()]
    lines.append("largest parts of the worker venv (on disk, MiB):")
    lines += [f"  {name:<40} {size:7.1f}" for name, size in result["venv_top_mib"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="worker container starts to measure (default 5)")
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before reading RSS (default 5)")
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "images.json")
    args = parser.parse_args(argv)
    missing = docker_unavailable()
    if missing is not None:
        print(f"bench.images: {missing}", file=sys.stderr)
        return 1
    try:
        result = measure(args.runs, args.settle)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"bench.images: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    print(render(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
