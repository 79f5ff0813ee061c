"""The worker process: start-up order, the pull feed, graceful drain on SIGTERM/SIGINT, shutdown.

Start-up: the health server first (so ``/healthz`` answers while NATS or the control plane are still
coming up), then NATS (retried until reachable), the stream and consumer, registration (retried), and
only then the pull feed. Drain: stop requesting messages, give back any that still arrive, let in-flight
commands finish until ``WORKER_DRAIN_DEADLINE``, cancel and nak the rest, deregister, close — exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from noetl_wire.snowflake import SnowflakeGenerator, node_id_for

from noetl_worker.control_plane.client import ControlPlaneClient
from noetl_worker.control_plane.retry import Backoff
from noetl_worker.executor.executor import CommandExecutor
from noetl_worker.executor.keychain import load_keychain
from noetl_worker.runtime.dispatcher import Dispatcher
from noetl_worker.runtime.health import HealthServer
from noetl_worker.runtime.lag import poll_lag_forever
from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.runtime.registration import Registration
from noetl_worker.scrub import Scrubber
from noetl_worker.settings import WorkerSettings
from noetl_worker.tools.base import ToolRegistry
from noetl_worker.transport.connection import connect_nats
from noetl_worker.transport.delivery import DeadLetters
from noetl_worker.transport.pull import PullFeed
from noetl_worker.transport.topology import ConsumerTopology, TopologyError, ensure_topology

__all__ = ["Worker"]

log = logging.getLogger("noetl_worker.runtime")

# Wrappers (uv run, shells, init shims) may forward one SIGTERM twice within milliseconds; only a second
# request a moment later means "hurry up".
_DUPLICATE_SIGNAL_WINDOW = 1.0


def _snowflakes(settings: WorkerSettings) -> SnowflakeGenerator:
    node = settings.snowflake_node_id if settings.snowflake_node_id is not None else settings.shard_id
    if node is None:
        node = node_id_for(settings.worker_id, {})
    return SnowflakeGenerator(node, epoch_ms=settings.snowflake_epoch_ms)


class Worker:
    """One worker process. ``await Worker(settings).run()`` returns the exit code."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        registry: ToolRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        metrics: WorkerMetrics | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or WorkerMetrics()
        self.handle_signals = handle_signals
        self.stopping = asyncio.Event()
        self.hurry = asyncio.Event()
        self._stop_requested_at = 0.0
        keychain = load_keychain(settings.keychain_names(), os.environ if environ is None else environ)
        self.scrubber = Scrubber(keychain.values())
        if registry is None:
            # Tools import heavy libraries lazily themselves; the registry module is cheap but optional here.
            from noetl_worker.tools.registry import default_registry  # noqa: PLC0415

            registry = default_registry()
        self.registry = registry
        self.client = ControlPlaneClient(
            worker_id=settings.worker_id,
            server_url=settings.server_url,
            metrics=self.metrics,
            timeout=settings.http_timeout,
            token=settings.api_token.get_secret_value() if settings.api_token else None,
            token_origins=settings.extra_token_origins(),
            locality={"worker_pool": settings.pool_name, "runtime": "python"},
            max_connections=max(16, settings.max_concurrent * 4),
            snowflakes=_snowflakes(settings),
        )
        self.executor = CommandExecutor(
            client=self.client,
            registry=registry,
            metrics=self.metrics,
            worker_id=settings.worker_id,
            keychain=keychain,
            scrubber=self.scrubber,
            command_timeout=settings.command_timeout,
            outcome_hold=settings.outcome_hold,
        )
        self.registration = Registration(self.client, settings)
        host, port = settings.metrics_host_port
        self.health = HealthServer(host, port, self.metrics, self.not_ready)
        self.nc: NATS | None = None
        self.dispatcher: Dispatcher | None = None
        self.feed: PullFeed | None = None
        if keychain:
            log.info(f"keychain allow-list: {len(keychain)} secret(s): {', '.join(sorted(keychain))}")

    # --- state ----------------------------------------------------------------------------------------
    def not_ready(self) -> list[str]:
        reasons = []
        if self.stopping.is_set():
            reasons.append("draining")
        if self.nc is None or not self.nc.is_connected:
            reasons.append("nats_disconnected")
        if not self.registration.registered:
            reasons.append("not_registered")
        # Busy slots are not a reason: work is pulled, not routed, so a saturated pod is healthy and must
        # stay Available (a pool at full load would otherwise go Ready=False and block rollouts and drains).
        # Saturation is reported by the noetl_worker_slots_busy / noetl_worker_slots_total gauges instead.
        return reasons

    def stop(self) -> None:
        """Begin a graceful drain (what SIGTERM/SIGINT do); a second call gives up on in-flight commands."""
        now = time.monotonic()
        if not self.stopping.is_set():
            log.info("drain requested: no new commands; finishing in-flight ones")
            self._stop_requested_at = now
            self.stopping.set()
        elif not self.hurry.is_set() and now - self._stop_requested_at >= _DUPLICATE_SIGNAL_WINDOW:
            log.warning("second stop request: naking in-flight commands now")
            self.hurry.set()

    # --- lifecycle ------------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        if self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        background: list[asyncio.Task[None]] = []
        try:
            await self.health.start()
        except OSError as exc:
            log.error(
                f"cannot serve /metrics on WORKER_METRICS_BIND={self.settings.metrics_bind}: {exc.strerror or exc}"
            )
            code = 1
        else:
            code = await self._serve(background)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._shutdown()
            if self.handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        return code

    async def _serve(self, background: list[asyncio.Task[None]]) -> int:
        settings = self.settings
        self.nc = await connect_nats(
            settings, stopping=self.stopping, on_disconnect=self._on_disconnect, on_reconnect=self._on_reconnect
        )
        if self.nc is None:
            return 0
        js = self.nc.jetstream()
        topology = await self._topology(js)
        if topology is None:
            return 0 if self.stopping.is_set() else 1
        dead_letters = DeadLetters(
            self.nc, js, settings.dead_letter_subject, topology.stream, topology.consumer, settings.worker_id,
            self.scrubber,
        )  # fmt: skip
        self.dispatcher = Dispatcher(
            client=self.client,
            executor=self.executor,
            metrics=self.metrics,
            dead_letters=dead_letters,
            worker_id=settings.worker_id,
            slots=settings.max_concurrent,
            default_server_url=settings.server_url,
            keepalive_interval=max(1.0, min(topology.ack_wait / 3, 30.0)),
        )
        self.metrics.watch_slots(settings.max_concurrent, self.dispatcher.busy)
        if not await self.registration.register(self.stopping):
            return 0
        loop = asyncio.get_running_loop()
        background.append(loop.create_task(self.registration.heartbeat_forever()))
        background.append(
            loop.create_task(
                poll_lag_forever(js, topology.stream, topology.consumer, self.metrics, settings.lag_poll_interval)
            )
        )

        async def recreate() -> None:
            await self._topology(js)

        self.feed = PullFeed(
            self.nc,
            stream=topology.stream,
            consumer=topology.consumer,
            expiry=settings.nats_pull_expiry,
            capacity=self.dispatcher.capacity,
            on_message=self.dispatcher.accept,
            recreate_topology=recreate,
        )
        self.dispatcher.wake_feed = self.feed.wake
        await self.feed.start()
        log.info(
            f"worker {settings.worker_id} pulling {topology.stream}/{topology.consumer} "
            f"with {settings.max_concurrent} slot(s)"
        )
        await self.feed.run(self.stopping)
        await self._drain()
        return 0

    async def _topology(self, js: JetStreamContext) -> ConsumerTopology | None:
        backoff = Backoff(initial=0.5, cap=10.0)
        attempt = 0
        while not self.stopping.is_set():
            try:
                return await ensure_topology(js, self.settings)
            except TopologyError as exc:
                log.error(f"cannot use the JetStream consumer: {exc}")
                return None
            except (NatsError, OSError, TimeoutError) as exc:
                delay = backoff.delay(attempt)
                attempt += 1
                log.warning(f"JetStream not ready ({type(exc).__name__}: {exc}); retrying in {delay:.1f}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
        return None

    async def _drain(self) -> None:
        dispatcher = self.dispatcher
        if dispatcher is None:
            return
        dispatcher.draining = True
        in_flight = len(dispatcher.tasks)
        if in_flight:
            log.info(f"draining: {in_flight} command(s) in flight, deadline {self.settings.drain_deadline:g}s")
        idle = asyncio.ensure_future(dispatcher.wait_idle(self.settings.drain_deadline))
        hurry = asyncio.ensure_future(self.hurry.wait())
        await asyncio.wait({idle, hurry}, return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        idle.cancel()
        if dispatcher.tasks:
            log.warning(f"drain ended with {len(dispatcher.tasks)} command(s) running; naking them")
            await dispatcher.cancel_all()

    async def _shutdown(self) -> None:
        if self.feed is not None:
            await self.feed.close()
        await self.registration.deregister()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(NatsError, OSError, TimeoutError):
                await asyncio.wait_for(self.nc.flush(), 2.0)
            with contextlib.suppress(NatsError, OSError, TimeoutError):
                await self.nc.close()
        await self.client.aclose()
        with contextlib.suppress(Exception):
            await self.registry.aclose()
        await self.health.stop()
        log.info("worker stopped")

    async def _on_disconnect(self) -> None:
        if not self.stopping.is_set():
            log.warning("NATS disconnected; reconnecting")

    async def _on_reconnect(self) -> None:
        log.info("NATS reconnected")
        if self.feed is not None:
            self.feed.reset()
