"""The HTTP peer the ``http`` variants call: a documented stand-in for a 100 ms I/O wait and a 1 MiB result.

- ``GET /sleep?ms=100`` answers ``{"slept_ms": 100}`` after sleeping (an I/O wait, not a process per
  command the way ``shell sleep 0.1`` would be).
- ``GET /blob?bytes=1048576`` answers that many bytes of seeded ASCII text (``text/plain``), so the tool's
  result exceeds the 100 KiB inline budget and takes the reference path (``PUT /api/result``).

Run as its own process so its CPU is not charged to the worker: ``python -m bench.peer --port 0`` prints
``listening on <port>`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import sys
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.listen import add_address_arguments, announce, bind

__all__ = ["MAX_BLOB_BYTES", "MAX_SLEEP_MS", "build_app", "main"]

MAX_SLEEP_MS = 60_000
MAX_BLOB_BYTES = 64 * 1024 * 1024


def _int_param(request: Request, name: str, default: int, maximum: int) -> int | Response:
    raw = request.query_params.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        return JSONResponse({"detail": f"query parameter {name}={raw!r} is not an integer"}, status_code=422)
    if not 0 <= value <= maximum:
        return JSONResponse({"detail": f"query parameter {name}={value} is outside 0..{maximum}"}, status_code=422)
    return value


def build_app(seed: int) -> Starlette:
    alphabet = (string.ascii_letters + string.digits).encode()
    blobs: dict[int, bytes] = {}

    async def sleep(request: Request) -> Response:
        ms = _int_param(request, "ms", 100, MAX_SLEEP_MS)
        if isinstance(ms, Response):
            return ms
        await asyncio.sleep(ms / 1000)
        return JSONResponse({"slept_ms": ms})

    async def blob(request: Request) -> Response:
        size = _int_param(request, "bytes", 1024 * 1024, MAX_BLOB_BYTES)
        if isinstance(size, Response):
            return size
        if size not in blobs:
            # Seeded, so two runs move the same bytes; built once per size, so serving costs no CPU to speak of.
            rng = random.Random(seed + size)
            blobs[size] = bytes(rng.choices(alphabet, k=size))
        return PlainTextResponse(blobs[size])

    return Starlette(routes=[Route("/sleep", sleep), Route("/blob", blob)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.splitlines()[0])
    add_address_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the blob contents")
    args = parser.parse_args(argv)
    # Bind first so the chosen port can be announced before uvicorn starts serving on the same socket.
    sock = bind("bench.peer", args.host, args.port)
    if sock is None:
        return 2
    announce(sock)
    config = uvicorn.Config(build_app(args.seed), log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
