"""Thin kopf handlers: every change, resume, resync and child event runs the same reconciliation.

Each pool has a resync loop (a kopf daemon) that refreshes it every ``resync_interval_seconds`` and, woken
by a watch on the operator's Deployments, within ``child_event_debounce_seconds`` of its Deployment
changing — so a pool turns Ready when its Deployment turns Available, not at the next resync. Refreshes of
one pool run one at a time; children are re-applied and the status written only when something changed
(see :mod:`noetl_operator.tracker`), so an idle operator only reads.

:func:`build_registry` returns a fresh :class:`kopf.OperatorRegistry`, so the operator can run in-process
against any API server (``kopf.operator(registry=build_registry(...))``) — the tests do that against
kmock, the envtest tier against a real kube-apiserver. Progress and the last-handled configuration live
in ``noetl.io/`` annotations, not in ``status``, so the status stays exactly the documented schema.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import kopf
from aiohttp import web
from pydantic import ValidationError

from noetl_operator.builders.meta import MANAGED_BY
from noetl_operator.consumers import ConsumerReport, delete_managed
from noetl_operator.kube import ApiCall, KubeApiError, KubeClient
from noetl_operator.kubeconfig import KubeConfigError, KubeConnection, load_connection
from noetl_operator.metrics import OperatorMetrics, PoolSample, serve_metrics
from noetl_operator.natspool import NatsConnections
from noetl_operator.reconcile import reconcile
from noetl_operator.secretrefs import resolve_secrets
from noetl_operator.settings import OperatorSettings
from noetl_operator.spec import (
    API_GROUP,
    API_VERSION,
    KIND,
    PLURAL,
    Autoscaling,
    ConsumerManagement,
    PoolSpecError,
    parse_pool,
)
from noetl_operator.tracker import PoolState, PoolTracker, deployment_fingerprint

__all__ = [
    "DELETE_ATTEMPTS",
    "FINALIZER",
    "FRAMEWORK_API_CALLS",
    "KOPF_CONNECTIONS",
    "build_registry",
    "configure_kopf",
    "release_consumer",
]

FINALIZER = f"{API_GROUP}/finalizer"
# A pool's deletion waits this long at most for NATS (or a Secret deleted together with the pool) before
# the durable is abandoned: a stuck finalizer would block `kubectl delete` and namespace deletion.
DELETE_ATTEMPTS = 6
DELETE_RETRY_SECONDS = 10.0

# kopf's connections: its few watch streams hold one each, the rest serve patches and events. Unbounded (kopf's
# default), a cold start of 200 pools opened ~300 TLS connections and ~40 MiB of buffers.
KOPF_CONNECTIONS = 16

# What kopf itself does with the API (watching pools and their Deployments, patching the pools' finalizers and
# annotations, posting events, peering between replicas, noticing CRDs appear); the RBAC test checks these too.
FRAMEWORK_API_CALLS: frozenset[ApiCall] = frozenset(
    {
        *(ApiCall(API_GROUP, PLURAL, verb) for verb in ("list", "watch", "patch")),
        # The pools' Deployments are watched, so a pool turns Ready when its Deployment does.
        *(ApiCall("apps", "deployments", verb) for verb in ("list", "watch")),
        ApiCall("", "events", "create"),
        *(ApiCall("kopf.dev", "clusterkopfpeerings", verb) for verb in ("list", "watch", "patch")),
        *(ApiCall("kopf.dev", "kopfpeerings", verb) for verb in ("list", "watch", "patch")),
        *(ApiCall("apiextensions.k8s.io", "customresourcedefinitions", verb) for verb in ("list", "watch")),
    }
)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf settings shared by ``run`` and in-process use."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=API_GROUP)
    settings.posting.reporting_component = "noetl-operator"
    # Kubernetes Events are for what needs attention (DriftRepaired), never the routine resync successes.
    settings.posting.level = logging.WARNING


def build_registry(
    settings: OperatorSettings,
    connection: KubeConnection | None = None,
    *,
    metrics: OperatorMetrics | None = None,
    metrics_socket: socket.socket | None = None,
) -> kopf.OperatorRegistry:
    """All handlers of the operator on a new registry; ``connection`` overrides the kubeconfig lookup.

    ``metrics`` records into the given :class:`OperatorMetrics` (else a private one); with ``metrics_socket``
    (bound by the CLI, so a taken port fails the start with a clear message) ``/metrics`` is served on it.
    """
    registry = kopf.OperatorRegistry()
    recorder = metrics or OperatorMetrics()
    # Captured now: kopf passes its own `settings` keyword to the handlers below.
    api_timeout = settings.api_timeout_seconds
    nats_timeout = settings.nats_connect_timeout_seconds
    resync = settings.resync_interval_seconds
    debounce = settings.child_event_debounce_seconds
    peering = None if settings.standalone else (settings.peering_name, settings.namespace)

    def connect() -> KubeConnection:
        return connection or load_connection(settings.kubeconfig, settings.context)

    @kopf.on.login(registry=registry)
    async def login(**_: Any) -> kopf.AiohttpSession:
        try:
            conn = connect()
        except KubeConfigError as error:
            raise kopf.LoginError(str(error)) from None
        # kopf's own session has no connection limit; kopf closes the session it is given.
        return kopf.AiohttpSession(server=conn.server, aiohttp_session=conn.open_session(connections=KOPF_CONNECTIONS))

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
        configure_kopf(settings)
        kube = KubeClient(connect(), timeout=api_timeout, discovery_ttl=resync, metrics=recorder)
        server = await serve_metrics(recorder, metrics_socket) if metrics_socket is not None else None
        memo["runtime"] = _Runtime(kube, NatsConnections(idle_close_seconds=10 * resync), PoolTracker(), server)
        if peering is not None:
            try:
                created = await kube.ensure_peering(*peering)
            except KubeApiError as error:
                # Without the peering CRD kopf itself pauses and says why; do not fail the start-up twice.
                logger.warning(f"cannot create the peering object {peering[0]!r}: {error}")
            else:
                logger.info(f"peering object {peering[0]!r} {'created' if created else 'already exists'}")

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        runtime = _runtime(memo)
        runtime.closed.set()
        if runtime.metrics_server is not None:
            await runtime.metrics_server.cleanup()
        await runtime.nats.close()
        await runtime.kube.close()

    async def refresh(body: kopf.Body, runtime: _Runtime, logger: kopf.Logger) -> None:
        """Reconcile one pool and write its status if it changed; one at a time per pool."""
        metadata = body.get("metadata") or {}
        uid, namespace, name = str(metadata.get("uid")), str(metadata.get("namespace")), str(metadata.get("name"))
        state = runtime.pools.state(uid)
        async with state.lock:
            if runtime.closed.is_set():
                return
            started = time.perf_counter()
            try:
                await refresh_locked(body, runtime, logger, state)
            except Exception:
                recorder.failed(namespace, name, time.perf_counter() - started)
                raise
            assert state.status is not None
            recorder.reconciled(
                _sample(body, state.status, state.applied.dead_letters),
                uid,
                _outcome(state.status),
                time.perf_counter() - started,
            )

    async def refresh_locked(body: kopf.Body, runtime: _Runtime, logger: kopf.Logger, state: PoolState) -> None:
        metadata = body.get("metadata") or {}
        if state.status is None:
            state.status = dict(body.get("status") or {})
        # The last status written is fresher than the one in a handler's snapshot of the body.
        current = {**body, "status": state.status}
        status = await reconcile(
            current,
            runtime.kube,
            nats_connect_timeout=nats_timeout,
            on_drift=_drift_reporter(body, logger, recorder),
            memory=state.applied,
            connections=runtime.nats,
        )
        if status == state.status:
            return
        removed: dict[str, Any] = {key: None for key in state.status if key not in status}
        await runtime.kube.patch_status(
            str(metadata.get("namespace")), str(metadata.get("name")), {**removed, **status}
        )
        state.status = status

    @kopf.on.resume(API_GROUP, API_VERSION, PLURAL, registry=registry)
    @kopf.on.create(API_GROUP, API_VERSION, PLURAL, registry=registry, backoff=10)
    @kopf.on.update(API_GROUP, API_VERSION, PLURAL, registry=registry, backoff=10)
    async def converge(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
        await refresh(body, _runtime(memo), logger)

    @kopf.daemon(API_GROUP, API_VERSION, PLURAL, registry=registry, cancellation_timeout=1.0)
    async def resync_loop(
        body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, uid: str, **_: Any
    ) -> None:
        """Refresh the pool every resync interval, and promptly (debounced) when one of its children changed."""
        runtime = _runtime(memo)
        state = runtime.pools.state(uid)
        while not stopped and not runtime.closed.is_set():
            if await _woken(state.wake, stopped, resync):
                # A rollout sends a burst of Deployment events: let it settle into one refresh.
                await asyncio.sleep(debounce)
            state.wake.clear()
            if stopped or runtime.closed.is_set():
                break
            try:
                # `body` is kopf's live view of the pool: always its latest spec and metadata.
                await refresh(body, runtime, logger)
            except (KubeApiError, aiohttp.ClientError, TimeoutError) as error:
                # Not fatal to the loop: the next tick or child event tries again.
                logger.warning(f"resync of the pool failed, retrying in {resync:g} s: {error}")

    @kopf.on.event("apps", "v1", "deployments", registry=registry, labels={"app.kubernetes.io/managed-by": MANAGED_BY})
    async def deployment_changed(body: kopf.Body, memo: kopf.Memo, type: str | None, **_: Any) -> None:
        """Wake the owning pool when its Deployment changed in a way its status (or drift repair) cares about."""
        # Async, not sync: kopf runs sync handlers in threads, and the wake event belongs to the loop.
        runtime = cast("_Runtime | None", memo.get("runtime"))
        owner = _owning_pool_uid(body)
        if runtime is None or owner is None:
            return
        state = runtime.pools.known(owner)
        if state is None:
            return
        deleted = type == "DELETED"
        state.applied.remember_deployment(None if deleted else body)
        if deleted or deployment_fingerprint(body) != state.applied.deployment_seen:
            state.wake.set()

    @kopf.on.delete(API_GROUP, API_VERSION, PLURAL, registry=registry)
    async def finalize(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, retry: int, uid: str, **_: Any) -> None:
        runtime = _runtime(memo)
        report = await release_consumer(body, runtime.kube, nats_timeout, runtime.nats)
        if not report.ready and retry < DELETE_ATTEMPTS - 1:
            raise kopf.TemporaryError(f"cannot delete the durable yet: {report.message}", delay=DELETE_RETRY_SECONDS)
        if report.ready:
            logger.info(f"consumer on deletion: {report.reason}: {report.message}")
        else:
            logger.warning(f"durable abandoned after {DELETE_ATTEMPTS} attempts: {report.reason}: {report.message}")
        runtime.pools.forget(uid)
        metadata = body.get("metadata") or {}
        recorder.forget(uid, str(metadata.get("namespace")), str(metadata.get("name")))
        # Children go with the pool: their owner references hand them to the garbage collector.

    return registry


@dataclass(frozen=True)
class _Runtime:
    """What the handlers share for the life of the operator (kopf's memo holds it)."""

    kube: KubeClient
    nats: NatsConnections
    pools: PoolTracker
    metrics_server: web.AppRunner | None = None
    #: Set by the cleanup handler. kopf can leave a pool's daemon running past its cleanup activity (seen under
    #: load: a resync one second after the cleanup); such a straggler must end, not reopen the connections the
    #: cleanup closed — nothing would close them again, and they would outlive the operator.
    closed: asyncio.Event = field(default_factory=asyncio.Event)


async def _woken(wake: asyncio.Event, stopped: kopf.DaemonStopped, period: float) -> bool:
    """Wait for ``wake``, the daemon being stopped, or ``period`` seconds; ``True`` if woken."""
    waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())}
    try:
        await asyncio.wait(waiters, timeout=period, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return wake.is_set() and not stopped


def _runtime(memo: kopf.Memo) -> _Runtime:
    return cast(_Runtime, memo["runtime"])


def _owning_pool_uid(child: kopf.Body) -> str | None:
    for owner in child.get("metadata", {}).get("ownerReferences") or []:
        if (
            owner.get("controller")
            and owner.get("kind") == KIND
            and owner.get("apiVersion") == f"{API_GROUP}/{API_VERSION}"
        ):
            return str(owner.get("uid"))
    return None


def _outcome(status: Mapping[str, Any]) -> str:
    """The reconciliation outcome label: what the Ready condition says went wrong, if the reconciler gave up."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return {"InvalidSpec": "invalid_spec", "ApplyRejected": "apply_rejected"}.get(condition.get("reason"), "ok")
    return "ok"


def _sample(body: kopf.Body, status: Mapping[str, Any], dead_letters: int | None) -> PoolSample:
    metadata = body.get("metadata") or {}
    try:
        scaling: Autoscaling | None = Autoscaling.model_validate((body.get("spec") or {}).get("autoscaling") or {})
    except ValidationError:
        scaling = None  # an invalid spec: its status says so; no bounds to report
    autoscaled = scaling is not None and scaling.enabled
    return PoolSample(
        namespace=str(metadata.get("namespace")),
        name=str(metadata.get("name")),
        status=status,
        min_replicas=scaling.min_replicas if scaling is not None and autoscaled else None,
        max_replicas=scaling.max_replicas if scaling is not None and autoscaled else None,
        lag_threshold=scaling.lag_threshold if scaling is not None and autoscaled else None,
        dead_letters=dead_letters,
    )


def _drift_reporter(
    body: kopf.Body, logger: kopf.Logger, metrics: OperatorMetrics | None = None
) -> Callable[[list[str]], None]:
    metadata = body.get("metadata") or {}

    def report(changed: list[str]) -> None:
        if metrics is not None:
            for child in changed:
                metrics.drift_repairs.labels(
                    namespace=metadata.get("namespace"), pool=metadata.get("name"), kind=child.partition("/")[0]
                ).inc()
        message = (
            f"repaired drift on {', '.join(changed)}: they differed from what the unchanged pool renders "
            "(edited by hand, or rendered by another operator version)"
        )
        logger.warning(message)
        kopf.warn(body, reason="DriftRepaired", message=message)

    return report


async def release_consumer(
    body: kopf.Body | dict[str, Any], kube: KubeClient, nats_timeout: float, connections: NatsConnections | None = None
) -> ConsumerReport:
    """Delete a managed durable on pool deletion; a report that is not ready means "not yet"."""
    try:
        pool = parse_pool(dict(body))
    except PoolSpecError:
        return ConsumerReport(True, "InvalidSpec", "an invalid pool never managed a consumer")
    consumer = pool.spec.consumer
    if consumer.management is not ConsumerManagement.MANAGED or consumer.prevent_delete:
        return ConsumerReport(True, "Kept", "durable left in place (observe, or consumer.preventDelete)")
    secrets = await resolve_secrets(pool, kube, connect_timeout=nats_timeout)
    if secrets.nats_access is None:
        return ConsumerReport(False, "SecretsMissing", f"NATS credentials unavailable: {'; '.join(secrets.missing)}")
    return await delete_managed(pool, secrets.nats_access, connections)
