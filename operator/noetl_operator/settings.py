"""OperatorSettings: the operator's own configuration, from ``NOETL_OPERATOR_*`` environment variables.

One documented pydantic model; ``docs/operator.md`` lists the variables from it. Invalid values stop the
operator at start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["ENV_PREFIX", "OperatorSettings", "SettingsError"]

ENV_PREFIX = "NOETL_OPERATOR_"


class SettingsError(ValueError):
    """An environment variable with a value the operator cannot use."""


class OperatorSettings(BaseModel):
    """Configuration of ``noetl-operator run``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str | None = Field(
        default=None, description="Watch only this namespace; unset watches every namespace (cluster-wide)."
    )
    resync_interval_seconds: float = Field(
        default=30.0,
        ge=1.0,
        description=(
            "Resync period of each pool: re-read Secrets, children (drift repair) and consumer lag. Children are "
            "re-applied only when the pool renders something new or a child was changed by someone else."
        ),
    )
    child_event_debounce_seconds: float = Field(
        default=0.1,
        ge=0.0,
        le=10.0,
        description=(
            "After a pool's Deployment changes, wait this long for further changes before refreshing the pool's "
            "status (one refresh per burst of rollout events)."
        ),
    )
    peering_name: str = Field(
        default="noetl-operator",
        min_length=1,
        description="kopf peering object shared by replicas; only the highest-priority replica is active.",
    )
    standalone: bool = Field(default=False, description="Run without peering (single replica, tests, dev).")
    priority: int = Field(default=0, description="Peering priority of this replica.")
    liveness_endpoint: str = Field(
        default="http://0.0.0.0:8080/healthz",
        description="Where kopf serves the liveness/readiness probe (answers once the operator is running).",
    )
    metrics_bind: str = Field(
        default="0.0.0.0:9090",
        description="`host:port` where `noetl-operator run` serves Prometheus `/metrics`; empty: not served.",
    )
    kubeconfig: str | None = Field(
        default=None, description="Kubeconfig file; unset uses the in-cluster account, else `$KUBECONFIG`."
    )
    context: str | None = Field(default=None, description="Kubeconfig context.")
    nats_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Connect timeout when checking a pool's JetStream consumer."
    )
    api_timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of one Kubernetes API request.")

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name -> environment variable."""
        return {name: f"{ENV_PREFIX}{name.upper()}" for name in cls.model_fields}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorSettings:
        """Read the settings; raises :class:`SettingsError` naming the offending variable."""
        source = os.environ if environ is None else environ
        values = {name: source[env] for name, env in cls.env_names().items() if source.get(env, "") != ""}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            names = cls.env_names()
            problems = [
                f"{names.get(str(item['loc'][0]), str(item['loc'][0]))}: {item['msg']}" for item in error.errors()
            ]
            raise SettingsError("; ".join(problems)) from None
