"""The python tool's warm runner: a fork per command, isolation between commands, and recovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import psutil
import pytest
from noetl_worker.tools._forkserver import ForkServer
from noetl_worker.tools._process import base_environment
from noetl_worker.tools.base import ToolError
from noetl_worker.tools.python import RUNNER

pytestmark = pytest.mark.integration


@pytest.fixture
async def server() -> AsyncIterator[ForkServer]:
    forkserver = ForkServer(sys.executable, RUNNER)
    yield forkserver
    await forkserver.aclose()


def request(code: str, **globals_: object) -> bytes:
    return json.dumps({"code": code, "globals": globals_, "args": globals_, "input": {}, "context": {},
                       "marker": "@@M@@", "filename": "<test>"}).encode()  # fmt: skip


def report(stdout: str) -> object:
    return json.loads(stdout.rsplit("@@M@@", 1)[1])


async def run(server: ForkServer, code: str, time_limit: float = 10, **globals_: object) -> object:
    outcome = await server.run(request(code, **globals_), env=base_environment(), cwd=None, time_limit=time_limit)
    assert outcome.exit_code == 0, outcome.stderr
    return report(outcome.stdout)


async def test_every_command_is_a_new_process_forked_from_the_server(server: ForkServer) -> None:
    first = await run(server, "import os\nresult = [os.getpid(), os.getppid(), os.getsid(0)]")
    second = await run(server, "import os\nresult = [os.getpid(), os.getppid(), os.getsid(0)]")
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    (pid1, parent1, session1), (pid2, parent2, session2) = first["result"], second["result"]
    assert pid1 != pid2
    assert parent1 == parent2 == server.pid  # forked by the server...
    assert (session1, session2) == (pid1, pid2)  # ...each in its own session (its own process group)
    assert server.pid != os.getpid()


async def test_state_does_not_leak_between_commands(server: ForkServer) -> None:
    await run(server, "import json\njson.LEAK = 1\nLEAKED = True\nresult = 1")
    second = await run(server, "import json\nresult = [hasattr(json, 'LEAK'), 'LEAKED' in globals()]")
    assert second == {"ok": True, "result": [False, False]}


async def test_each_command_gets_exactly_its_environment(server: ForkServer) -> None:
    outcome = await server.run(request("import os\nresult = dict(os.environ)"), env={"ONLY": "this", "PATH": "/bin"},
                               cwd="/tmp", time_limit=10)  # fmt: skip
    assert report(outcome.stdout) == {"ok": True, "result": {"ONLY": "this", "PATH": "/bin"}}


async def test_concurrent_commands_are_independent(server: ForkServer) -> None:
    results = await asyncio.gather(
        *(run(server, "import time\ntime.sleep(0.2)\nresult = n * n", n=n) for n in range(8))
    )
    assert [r["result"] for r in results] == [n * n for n in range(8)]


async def test_a_killed_server_fails_its_running_commands_and_is_replaced(server: ForkServer) -> None:
    await run(server, "result = 0")
    first_pid = server.pid
    assert first_pid is not None
    running = asyncio.create_task(run(server, "import time\ntime.sleep(30)"))
    await asyncio.sleep(0.3)
    os.kill(first_pid, signal.SIGKILL)
    with pytest.raises(ToolError, match="python runner process exited unexpectedly"):
        await asyncio.wait_for(running, timeout=10)
    again = await run(server, "result = 'back'")
    assert again == {"ok": True, "result": "back"}
    assert server.pid not in (None, first_pid)


async def test_closing_leaves_no_process_behind(server: ForkServer) -> None:
    await run(server, "result = 1")
    pid = server.pid
    assert pid is not None
    await server.aclose()
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the fork server outlived aclose()"
        await asyncio.sleep(0.02)


async def test_a_missing_working_directory_is_a_named_error(server: ForkServer) -> None:
    with pytest.raises(ToolError, match=r"^Process error: cannot start .* in '/nonexistent': No such directory"):
        await server.run(request("result = 1"), env={}, cwd="/nonexistent", time_limit=5)


WORKER_SCRIPT = """
import asyncio, json, sys
from noetl_worker.tools._forkserver import ForkServer
from noetl_worker.tools._process import base_environment
from noetl_worker.tools.python import RUNNER

async def main():
    server = ForkServer(sys.executable, RUNNER)
    code = "import os, time\\nprint(os.getpid(), flush=True)\\ntime.sleep(300)"
    request = json.dumps({"code": code, "globals": {}, "args": {}, "input": {}, "context": {},
                          "marker": "@@M@@", "filename": "<t>"}).encode()
    task = asyncio.create_task(server.run(request, env=base_environment(), cwd=None, time_limit=300))
    await asyncio.sleep(1.0)
    print(server.pid, flush=True)
    await task

asyncio.run(main())
"""


def test_a_killed_worker_takes_the_runner_and_its_commands_with_it() -> None:
    process = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        assert process.stdout is not None
        server_pid = int(process.stdout.readline())
        runner = psutil.Process(server_pid)
        children = runner.children()
        assert len(children) == 1
        command = children[0]
        process.kill()  # SIGKILL: the worker gets no chance to clean up
        process.wait()
        for survivor in (runner, command):
            deadline = time.monotonic() + 5
            while survivor.is_running() and survivor.status() != psutil.STATUS_ZOMBIE:
                assert time.monotonic() < deadline, f"pid {survivor.pid} outlived the killed worker"
                time.sleep(0.02)
    finally:
        if process.poll() is None:
            process.kill()


async def test_a_burst_of_commands_is_queued_not_refused(server: ForkServer) -> None:
    results = await asyncio.gather(*(run(server, "result = n", n=n) for n in range(200)))
    assert [r["result"] for r in results] == list(range(200))
