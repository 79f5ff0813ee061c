"""Thin kopf handlers: every change, resume and timer tick runs the same reconciliation.

:func:`build_registry` returns a fresh :class:`kopf.OperatorRegistry`, so the operator can run in-process
against any API server (``kopf.operator(registry=build_registry(...))``) — the tests do that against
kmock, the envtest tier against a real kube-apiserver. Progress and the last-handled configuration live
in ``noetl.io/`` annotations, not in ``status``, so the status stays exactly the documented schema.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import kopf

from noetl_operator.consumers import ConsumerReport, delete_managed
from noetl_operator.kube import ApiCall, KubeApiError, KubeClient, KubeConnection, load_connection
from noetl_operator.reconcile import reconcile
from noetl_operator.secretrefs import resolve_secrets
from noetl_operator.settings import OperatorSettings
from noetl_operator.spec import API_GROUP, API_VERSION, PLURAL, ConsumerManagement, PoolSpecError, parse_pool

__all__ = [
    "DELETE_ATTEMPTS",
    "FINALIZER",
    "FRAMEWORK_API_CALLS",
    "build_registry",
    "configure_kopf",
    "release_consumer",
]

FINALIZER = f"{API_GROUP}/finalizer"
# A pool's deletion waits this long at most for NATS (or a Secret deleted together with the pool) before
# the durable is abandoned: a stuck finalizer would block `kubectl delete` and namespace deletion.
DELETE_ATTEMPTS = 6
DELETE_RETRY_SECONDS = 10.0

# What kopf itself does with the API (watching pools, patching their status and finalizers, posting
# events, peering between replicas, noticing CRDs appear); the RBAC test checks these too.
FRAMEWORK_API_CALLS: frozenset[ApiCall] = frozenset(
    {
        *(ApiCall(API_GROUP, PLURAL, verb) for verb in ("list", "watch", "patch")),
        ApiCall(API_GROUP, f"{PLURAL}/status", "patch"),
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


def build_registry(settings: OperatorSettings, connection: KubeConnection | None = None) -> kopf.OperatorRegistry:
    """All handlers of the operator on a new registry; ``connection`` overrides the kubeconfig lookup."""
    registry = kopf.OperatorRegistry()
    # Captured now: kopf passes its own `settings` keyword to the handlers below.
    api_timeout = settings.api_timeout_seconds
    nats_timeout = settings.nats_connect_timeout_seconds
    peering = None if settings.standalone else (settings.peering_name, settings.namespace)

    def connect() -> KubeConnection:
        return connection or load_connection(settings.kubeconfig, settings.context)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        conn = connect()
        return kopf.ConnectionInfo(
            server=conn.server,
            token=conn.token,
            ca_path=conn.ca_path,
            certificate_path=conn.certificate_path,
            private_key_path=conn.private_key_path,
            insecure=conn.insecure,
        )

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
        configure_kopf(settings)
        kube = KubeClient(connect(), timeout=api_timeout)
        memo["kube"] = kube
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
        await _kube(memo).close()

    @kopf.on.resume(API_GROUP, API_VERSION, PLURAL, registry=registry)
    @kopf.on.create(API_GROUP, API_VERSION, PLURAL, registry=registry, backoff=10)
    @kopf.on.update(API_GROUP, API_VERSION, PLURAL, registry=registry, backoff=10)
    async def converge(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
        status = await reconcile(
            dict(body), _kube(memo), nats_connect_timeout=nats_timeout, on_drift=_drift_reporter(body, logger)
        )
        patch.status.update(status)

    @kopf.timer(
        API_GROUP,
        API_VERSION,
        PLURAL,
        registry=registry,
        interval=settings.resync_interval_seconds,
        initial_delay=settings.resync_interval_seconds,
    )
    async def resync(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
        status = await reconcile(
            dict(body), _kube(memo), nats_connect_timeout=nats_timeout, on_drift=_drift_reporter(body, logger)
        )
        patch.status.update(status)

    @kopf.on.delete(API_GROUP, API_VERSION, PLURAL, registry=registry)
    async def finalize(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, retry: int, **_: Any) -> None:
        report = await release_consumer(body, _kube(memo), nats_timeout)
        if not report.ready and retry < DELETE_ATTEMPTS - 1:
            raise kopf.TemporaryError(f"cannot delete the durable yet: {report.message}", delay=DELETE_RETRY_SECONDS)
        if report.ready:
            logger.info(f"consumer on deletion: {report.reason}: {report.message}")
        else:
            logger.warning(f"durable abandoned after {DELETE_ATTEMPTS} attempts: {report.reason}: {report.message}")
        # Children go with the pool: their owner references hand them to the garbage collector.

    return registry


def _drift_reporter(body: kopf.Body, logger: kopf.Logger) -> Callable[[list[str]], None]:
    def report(changed: list[str]) -> None:
        message = (
            f"repaired drift on {', '.join(changed)}: they differed from what the unchanged pool renders "
            "(edited by hand, or rendered by another operator version)"
        )
        logger.warning(message)
        kopf.warn(body, reason="DriftRepaired", message=message)

    return report


def _kube(memo: kopf.Memo) -> KubeClient:
    return cast(KubeClient, memo["kube"])


async def release_consumer(body: kopf.Body | dict[str, Any], kube: KubeClient, nats_timeout: float) -> ConsumerReport:
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
    return await delete_managed(pool, secrets.nats_access)
