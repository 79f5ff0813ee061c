"""Every alert and every dashboard panel of the worker pool: the one source of ``deploy/monitoring/``.

Durations are seconds and rendered by :func:`duration`, so the monitoring test tier can evaluate the very
same expressions on a real Prometheus with time scaled down (``scale=0.05``: ten minutes become thirty
seconds). Worker series get ``namespace`` and ``pool`` from the scrape (the PodMonitor in
``deploy/overlays/monitoring`` copies the pod's ``noetl.io/pool`` label); the operator's series carry them
themselves. Runbooks are the sections of ``docs/operations.md`` named by ``runbook``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ALERTS", "PANELS", "Alert", "Panel", "Target", "duration", "render_expr"]

Severity = Literal["warning", "critical"]


def duration(seconds: float) -> str:
    """Prometheus duration text: ``600`` -> ``10m``, ``30`` -> ``30s``, ``0.5`` -> ``500ms``."""
    millis = round(seconds * 1000)
    if millis % 60_000 == 0 and millis:
        return f"{millis // 60_000}m"
    if millis % 1000 == 0:
        return f"{millis // 1000}s"
    return f"{millis}ms"


def render_expr(template: str, scale: float = 1.0) -> str:
    """Substitute ``{w:<seconds>}`` windows in an expression, scaled."""
    out, rest = [], template
    while "{w:" in rest:
        head, _, tail = rest.partition("{w:")
        number, _, rest = tail.partition("}")
        out += [head, duration(float(number) * scale)]
    out.append(rest)
    return "".join(out)


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str  # windows as {w:<seconds>}
    for_seconds: float
    severity: Severity
    summary: str
    description: str
    runbook: str  # anchor in docs/operations.md


ALERTS: tuple[Alert, ...] = (
    Alert(
        "NoetlPoolLagGrowingAtMaxReplicas",
        "deriv(noetl_operator_consumer_pending_messages[{w:600}]) > 0"
        " and on (namespace, pool) (noetl_operator_pool_replicas >= noetl_operator_pool_max_replicas)",
        600, "warning",
        "Pool {{ $labels.namespace }}/{{ $labels.pool }}: backlog growing at maxReplicas",
        "The consumer's pending messages have grown for 10 minutes while the pool runs at "
        "spec.autoscaling.maxReplicas: the pool cannot scale further, so the backlog will keep growing.",
        "lag-growing-at-max-replicas",
    ),
    Alert(
        "NoetlDeadLetters",
        "noetl_operator_dead_letter_messages > 0",
        60, "warning",
        "Pool {{ $labels.namespace }}/{{ $labels.pool }}: {{ $value }} dead-lettered messages",
        "The pool's dead-letter stream is not empty: commands that can never run (poison pointers, unknown "
        "commands, max deliveries reached) were set aside and need a decision.",
        "dead-letters",
    ),
    Alert(
        "NoetlWorkersNotRegistered",
        "noetl_worker_registered == 0",
        300, "critical",
        "Worker {{ $labels.pod }} ({{ $labels.namespace }}/{{ $labels.pool }}) is not registered",
        "The worker has not been registered with the control plane for 5 minutes; it claims nothing until it is.",
        "workers-not-registered",
    ),
    Alert(
        "NoetlClaimRefusalsSustained",
        'sum by (namespace, pool) (rate(noetl_worker_claims_total{code="503"}[{w:300}])) > 0',
        600, "warning",
        "Pool {{ $labels.namespace }}/{{ $labels.pool }}: control plane refusing claims (503)",
        "Claims have been answered 503 for 10 minutes: the NoETL server is saturated or in an outage; commands "
        "wait in NATS (redelivered with backoff) instead of running.",
        "claim-refusals",
    ),
    Alert(
        "NoetlOperatorReconcileErrors",
        'sum by (namespace, pool) (rate(noetl_operator_reconciles_total{outcome=~"error|apply_rejected"}[{w:300}]))'
        " > 0",
        600, "warning",
        "Operator cannot reconcile pool {{ $labels.namespace }}/{{ $labels.pool }}",
        "Reconciliations of the pool have failed (API errors, NATS unreachable, a child refused) for 10 minutes.",
        "operator-reconcile-errors",
    ),
    Alert(
        "NoetlPoolNotReady",
        'noetl_operator_pool_condition{condition="Ready", status="True"} == 0',
        600, "warning",
        "Pool {{ $labels.namespace }}/{{ $labels.pool }} not Ready for 10 minutes",
        "The pool's Ready condition has not been True for 10 minutes; its status conditions say why.",
        "pool-not-ready",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    expr: str  # Grafana variables: $namespace, $pool, $__rate_interval
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    targets: tuple[Target, ...]
    description: str = ""


_W = 'namespace=~"$namespace", pool=~"$pool"'

PANELS: tuple[Panel, ...] = (
    Panel("Throughput (commands finished / s)", "ops", (
        Target(f"sum by (pool) (rate(noetl_worker_command_duration_seconds_count{{{_W}}}[$__rate_interval]))",
               "{{pool}}"),
    ), "Commands whose outcome the control plane accepted, per second."),
    Panel("Consumer lag", "short", (
        Target(f"sum by (pool) (noetl_operator_consumer_pending_messages{{{_W}}})", "{{pool}} pending"),
        Target(f"sum by (pool) (noetl_operator_consumer_ack_pending_messages{{{_W}}})", "{{pool}} in flight"),
    ), "num_pending and num_ack_pending of the pool's durable, as the operator (and KEDA) read them."),
    Panel("Slots busy", "short", (
        Target(f"sum by (pool) (noetl_worker_slots_busy{{{_W}}})", "{{pool}} busy"),
        Target(f"sum by (pool) (noetl_worker_slots_total{{{_W}}})", "{{pool}} total"),
    ), "Saturation: busy slots against WORKER_MAX_CONCURRENT x replicas."),
    Panel("Command duration p95 by tool kind", "s", (
        Target("histogram_quantile(0.95, sum by (le, tool_kind) "
               f"(rate(noetl_worker_command_duration_seconds_bucket{{{_W}}}[$__rate_interval])))", "{{tool_kind}}"),
    ), "Claim granted to outcome accepted."),
    Panel("Errors / s", "ops", (
        Target(f"sum by (tool_kind) (rate(noetl_worker_dispatch_errors_total{{{_W}}}[$__rate_interval]))",
               "call.error {{tool_kind}}"),
        Target(f'sum by (code) (rate(noetl_worker_claims_total{{{_W}, code!="200"}}[$__rate_interval]))',
               "claim {{code}}"),
        Target(f"sum by (reason) (rate(noetl_worker_messages_termed_total{{{_W}}}[$__rate_interval]))",
               "terminated {{reason}}"),
        Target(f'sum by (outcome) (rate(noetl_operator_reconciles_total{{{_W}, outcome!="ok"}}[$__rate_interval]))',
               "reconcile {{outcome}}"),
    ), "Failed commands, refused claims, dead-lettered messages, failed reconciliations."),
    Panel("Replicas vs KEDA's target", "short", (
        Target(f"sum by (pool) (noetl_operator_pool_replicas{{{_W}}})", "{{pool}} replicas"),
        Target(f"sum by (pool) (noetl_operator_pool_ready_replicas{{{_W}}})", "{{pool}} ready"),
        Target("sum by (pool) (ceil((noetl_operator_consumer_pending_messages"
               f"{{{_W}}} + noetl_operator_consumer_ack_pending_messages{{{_W}}})"
               f" / noetl_operator_pool_lag_threshold_messages{{{_W}}}))", "{{pool}} KEDA target"),
        Target(f"sum by (pool) (noetl_operator_pool_max_replicas{{{_W}}})", "{{pool}} max"),
    ), "KEDA's target is ceil(lag / lagThreshold), clamped by the HPA to [minReplicas, maxReplicas]."),
    Panel("Dead letters", "short", (
        Target(f"sum by (pool) (noetl_operator_dead_letter_messages{{{_W}}})", "{{pool}}"),
    ), "Messages in the pool's dead-letter stream."),
    Panel("Control-plane latency p95", "s", (
        Target("histogram_quantile(0.95, sum by (le, endpoint) "
               f"(rate(noetl_worker_control_plane_request_duration_seconds_bucket{{{_W}}}[$__rate_interval])))",
               "{{endpoint}}"),
    ), "Each HTTP attempt until its answer is read."),
)  # fmt: skip
