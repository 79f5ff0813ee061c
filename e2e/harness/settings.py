"""Settings of the e2e suite: one model, environment prefix ``NOETL_E2E_``.

e2e/kind/run.sh sets these for the cluster it builds; against another cluster, set at least
``NOETL_E2E_KUBECONFIG`` and ``NOETL_E2E_CONTROL_PLANE_URL``. Two URLs exist for the control plane on
purpose: the suite reaches it from outside the cluster, the workers from inside. With no kubeconfig the
suite runs on the local envtest backend, which starts everything itself and fills in every URL.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["E2ESettings"]


class E2ESettings(BaseSettings):
    """Where the cluster and the control plane are, and what the test pools run."""

    model_config = SettingsConfigDict(env_prefix="NOETL_E2E_", extra="ignore")

    backend: str = Field(
        "auto",
        description="How the cluster is reached: `kubeconfig` (kind or any cluster), `envtest` (a local API "
        "server, pods as local worker processes), `docker` (that API server, pods as containers of "
        "noetl-worker:dev) or `auto` (kubeconfig if set, else docker if it can run, else envtest); see "
        "e2e.harness.cluster.BACKENDS.",
    )
    kubeconfig: Path | None = Field(
        None, description="Kubeconfig of the cluster under test; unset = the envtest backend (with `auto`)."
    )
    context: str | None = Field(None, description="Kubeconfig context; unset = the file's current context.")
    namespace: str = Field("noetl", description="Namespace the test pools are created in (must exist).")
    control_plane_url: str | None = Field(
        None, description="The control plane as the suite reaches it (e.g. http://127.0.0.1:18082); unset = skip."
    )
    server_url: str = Field(
        "http://noetl.noetl.svc.cluster.local:8082", description="The control plane as worker pods reach it."
    )
    nats_url: str = Field("nats://nats.nats.svc.cluster.local:4222", description="NATS as worker pods reach it.")
    nats_monitoring_endpoint: str = Field(
        "nats-headless.nats.svc.cluster.local:8222",
        description="NATS monitoring `host:port` for KEDA and the operator.",
    )
    nats_account: str = Field("$G", description="NATS account of the command stream (`$G` without accounts).")
    worker_image_repository: str = Field("noetl-worker", description="Worker image repository.")
    worker_image_tag: str = Field("dev", description="Worker image tag.")
    worker_image_pull_policy: str = Field("Never", description="`Never` on kind (images are `kind load`ed).")
    timeout_seconds: float = Field(300.0, gt=0, description="Upper bound for any single wait in the suite.")
    poll_seconds: float = Field(2.0, gt=0, description="Polling period of the waits.")
