"""``noetl-standin``: run the stand-in control plane as its own process.

    noetl-standin --port 8082 --nats-url nats://127.0.0.1:4222

Every ``StandinSettings`` field can also come from ``NOETL_STANDIN_<FIELD>``; flags win. The worker's
``noetl-worker standin`` delegates here with the same arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from noetl_standin import __version__
from noetl_standin.settings import StandinSettings

__all__ = ["build_parser", "main", "settings_from_args"]

# flag → settings field; flags left unset fall back to the environment, then the defaults.
_FLAGS: dict[str, tuple[str, type, str]] = {
    "--host": ("host", str, "interface to bind (default 127.0.0.1)"),
    "--port": ("port", int, "TCP port (default 8082; 0 = any free port)"),
    "--server-url": ("server_url", str, "URL put in pointer messages (default http://<host>:<port>)"),
    "--nats-url": ("nats_url", str, "nats:// URL to publish pointers to (default: do not publish)"),
    "--stream": ("nats_stream", str, "JetStream stream (default NOETL_COMMANDS)"),
    "--subject": ("nats_subject", str, "base subject (default noetl.commands)"),
    "--republish-delay": ("republish_delay_seconds", float, "re-publish unclaimed commands after N s (default 30)"),
    "--reaper-interval": ("reaper_interval_seconds", float, "re-publish orphaned claims every N s (default 60)"),
    "--claim-lease": ("claim_lease_seconds", float, "claim lease before takeover (default 120)"),
    "--heartbeat-stale": ("worker_heartbeat_stale_seconds", float, "worker heartbeat staleness (default 30)"),
    "--log-level": ("log_level", str, "log level (default warning)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noetl-standin",
        description="Stand-in NoETL control plane (HTTP API + NATS pointer publisher) for tests, bench and dev.",
    )
    parser.add_argument("--version", action="version", version=f"noetl-standin {__version__}")
    for flag, (field, kind, help_text) in _FLAGS.items():
        parser.add_argument(flag, dest=field, type=kind, default=None, help=help_text)
    parser.add_argument(
        "--pool-routing",
        dest="pool_routing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish on noetl.commands.<pool>.<execution_id>",
    )
    parser.add_argument(
        "--access-log", dest="access_log", action=argparse.BooleanOptionalAction, default=None, help="log requests"
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> StandinSettings:
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if v is not None}
    return StandinSettings(**overrides)


async def _serve(settings: StandinSettings, announce: Callable[[str], None]) -> int:
    import uvicorn  # noqa: PLC0415 - keep `--help` fast

    from noetl_standin.app import build_app  # noqa: PLC0415
    from noetl_standin.core import ControlPlane, StandinStartError  # noqa: PLC0415
    from noetl_standin.server import uvicorn_config  # noqa: PLC0415

    plane = ControlPlane(settings)
    try:
        await plane.start()
    except StandinStartError as exc:
        print(f"noetl-standin: failed to start: {exc}", file=sys.stderr)
        return 1
    server = uvicorn.Server(uvicorn_config(build_app(plane, manage_plane=False), settings))

    async def announce_when_started() -> None:
        while not server.started and not server.should_exit:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        if server.started:
            host, port = next(s for srv in server.servers for s in srv.sockets).getsockname()[:2]
            plane.bind(settings.host if settings.host not in ("0.0.0.0", "::") else host, port)  # noqa: S104
            announce(f"noetl-standin listening on {plane.server_url()} (NATS: {settings.nats_url or 'off'})")

    watcher = asyncio.create_task(announce_when_started())
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn's own exit on bind errors; report it as ours
        return int(exc.code or 1) if isinstance(exc.code, int) else 1
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await plane.stop()
    if not server.started:
        print(f"noetl-standin: failed to serve HTTP on {settings.host}:{settings.port}", file=sys.stderr)
        return 1
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415 - optional accelerator
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"noetl-standin: invalid settings: {problems}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def announce(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(_serve(settings, announce))


if __name__ == "__main__":
    sys.exit(main())
