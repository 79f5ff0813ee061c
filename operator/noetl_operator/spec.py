"""The NoetlWorkerPool spec: the single source of truth for the CRD schema, the docs and the builders.

Every field carries a description and a default where one makes sense; ``crdgen`` turns this model into
the structural OpenAPI schema of ``crds/noetl.io_noetlworkerpools.yaml`` and ``docgen`` into the field
table of ``docs/operator.md``. Cross-field rules are declared twice on purpose: as CEL
``x-kubernetes-validations`` (so the API server rejects a bad pool at ``kubectl apply``) and as pydantic
validators (so ``noetl-operator render`` rejects it offline with the same field-named message). A test
evaluates every CEL rule against pools the model accepts and rejects, so the two cannot drift.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from noetl_wire.jetstream import DEFAULT_ACK_WAIT_SECONDS, DEFAULT_MAX_ACK_PENDING, DEFAULT_MAX_DELIVER
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "KIND",
    "PLURAL",
    "Autoscaling",
    "Consumer",
    "ConsumerManagement",
    "Fallback",
    "Image",
    "Keychain",
    "Nats",
    "NoetlWorkerPool",
    "NoetlWorkerPoolSpec",
    "PoolSpecError",
    "Runtime",
    "parse_pool",
    "parse_spec",
]

API_GROUP = "noetl.io"
API_VERSION = "v1alpha1"
KIND = "NoetlWorkerPool"
PLURAL = "noetlworkerpools"

# Kubernetes names are DNS-1123 labels; children append suffixes, so the pool name leaves room for them.
MAX_POOL_NAME_LENGTH = 40
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_SECRET_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"  # noqa: S105 - a name pattern, not a password
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# JetStream names: no whitespace, dots, wildcards or path separators.
_JS_NAME = r"^[^\s.*>/\\]+$"
_SUBJECT = r"^[^\s]+$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
# Memory sizes: no milli suffix (Kubernetes accepts "128m" as 0.128 bytes, never what anyone means).
_MEMORY = r"^[0-9]+(\.[0-9]+)?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"

SecretName = Annotated[str, StringConstraints(pattern=_SECRET_NAME, max_length=253)]


class _Model(BaseModel):
    """Strict camelCase models: an unknown or misspelt field is an error, never silently ignored."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
    )


def cel_rule(rule: str, message: str, field_path: str | None = None) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry: a CEL ``rule`` and the ``message`` shown when it fails."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def _cel(*rules: dict[str, str]) -> JsonDict:
    return {"x-kubernetes-validations": [dict(rule) for rule in rules]}


class Runtime(StrEnum):
    """Which worker image and environment dialect the pool runs."""

    PYTHON = "python"
    RUST = "rust"


class ConsumerManagement(StrEnum):
    """Whether the operator owns the JetStream durable or only reads it."""

    MANAGED = "managed"
    OBSERVE = "observe"


class PullPolicy(StrEnum):
    """Kubernetes image pull policy."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class SecretKeyRef(_Model):
    """A key inside a Secret in the pool's own namespace."""

    name: str = Field(pattern=_SECRET_NAME, max_length=253, description="Secret name (same namespace as the pool).")
    key: str = Field(min_length=1, max_length=253, description="Key inside the Secret.")


class Image(_Model):
    """The worker container image; a tag or a digest is required so rollouts are reproducible."""

    model_config = ConfigDict(
        json_schema_extra=_cel(
            cel_rule("has(self.tag) || has(self.digest)", "image.tag or image.digest must be set"),
            cel_rule(
                "!has(self.tag) || self.tag != 'latest'",
                "image.tag 'latest' is not reproducible: pin a version or a digest",
            ),
        )
    )

    repository: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description=(
            "Image repository. Unset: `ghcr.io/noetl/noetl-workerpool-worker` for runtime python, "
            "`ghcr.io/noetl/worker` for runtime rust."
        ),
    )
    tag: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="Image tag, e.g. `0.1.0`."
    )
    digest: str | None = Field(
        default=None,
        pattern=r"^sha256:[a-f0-9]{64}$",
        description="Image digest (`sha256:...`); when set it pins the image even if a tag is also given.",
    )
    pull_policy: PullPolicy = Field(default=PullPolicy.IF_NOT_PRESENT, description="Image pull policy.")

    @model_validator(mode="after")
    def _pinned(self) -> Self:
        if self.tag is None and self.digest is None:
            raise ValueError("image.tag or image.digest must be set")
        if self.tag == "latest":
            raise ValueError("image.tag 'latest' is not reproducible: pin a version or a digest")
        return self


class ServerSettings(_Model):
    """The NoETL control plane the workers claim commands from."""

    url: str = Field(
        default="http://noetl.noetl.svc.cluster.local:8082",
        pattern=r"^https?://[^\s]+$",
        description="Base URL of the NoETL server (`NOETL_SERVER_URL`).",
    )
    token_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Bearer token for the control plane, from a Secret key (runtime python only).",
    )


class NatsTls(_Model):
    """TLS material for the NATS connection, mounted from one Secret (runtime python only)."""

    secret_name: str = Field(pattern=_SECRET_NAME, max_length=253, description="Secret holding the TLS files.")
    ca_key: str = Field(default="ca.crt", min_length=1, description="Key of the CA bundle in the Secret.")
    cert_key: str | None = Field(default=None, min_length=1, description="Key of the client certificate (mTLS).")
    key_key: str | None = Field(default=None, min_length=1, description="Key of the client private key (mTLS).")

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_key is None) != (self.key_key is None):
            raise ValueError("nats.tls.certKey and nats.tls.keyKey must be set together")
        return self


class NatsCredentials(_Model):
    """User and password for NATS, from one Secret in the pool's namespace."""

    name: str = Field(pattern=_SECRET_NAME, max_length=253, description="Secret name.")
    user_key: str = Field(default="user", min_length=1, description="Key holding the user name.")
    password_key: str = Field(default="password", min_length=1, description="Key holding the password.")


class Nats(_Model):
    """Where the commands are announced, and where KEDA and the operator read consumer lag."""

    model_config = ConfigDict(
        json_schema_extra=_cel(
            cel_rule(
                "!has(self.tls) || !has(self.tls.certKey) || has(self.tls.keyKey)",
                "nats.tls.certKey and nats.tls.keyKey must be set together",
            ),
        )
    )

    url: str = Field(
        default="nats://nats.nats.svc.cluster.local:4222",
        pattern=r"^(nats|tls)://[^\s@]+$",
        description="NATS URL without inline credentials (`NATS_URL`); use `credentialsSecretRef` for those.",
    )
    credentials_secret_ref: NatsCredentials | None = Field(
        default=None, description="NATS user/password Secret (`NATS_USER`/`NATS_PASSWORD`)."
    )
    tls: NatsTls | None = Field(default=None, description="TLS for the NATS connection (runtime python only).")
    stream: str = Field(
        default="NOETL_COMMANDS", pattern=_JS_NAME, max_length=255, description="JetStream stream (`NATS_STREAM`)."
    )
    subject: str = Field(
        default="noetl.commands", pattern=_SUBJECT, description="Base command subject (`NATS_SUBJECT`)."
    )
    account: str = Field(
        default="$G",
        min_length=1,
        description="NATS account holding the stream, for the KEDA scaler (`$G` when the server has no accounts).",
    )
    monitoring_endpoint: str = Field(
        default="nats.nats.svc.cluster.local:8222",
        pattern=r"^[^\s/:]+:[0-9]{1,5}$",
        description="`host:port` of the NATS HTTP monitoring endpoint KEDA queries (`/jsz`).",
    )
    use_https: bool = Field(default=False, description="Query the monitoring endpoint over HTTPS.")

    @model_validator(mode="after")
    def _no_inline_credentials(self) -> Self:
        if "@" in self.url:
            raise ValueError("nats.url must not carry credentials; use nats.credentialsSecretRef")
        return self


class Consumer(_Model):
    """The durable JetStream pull consumer the pool's workers share."""

    model_config = ConfigDict(
        json_schema_extra=_cel(
            cel_rule(
                "self.maxDeliver == -1 || size(self.backoffSeconds) < self.maxDeliver",
                "consumer.backoffSeconds must have fewer entries than consumer.maxDeliver",
            ),
        )
    )

    durable_name: str = Field(
        default="noetl_worker_pool",
        pattern=_JS_NAME,
        max_length=255,
        description="Durable consumer name (`NATS_CONSUMER`); also the KEDA trigger's `consumer`.",
    )
    filter_subject: str | None = Field(
        default=None,
        pattern=_SUBJECT,
        description="Consumer filter subject (`NATS_FILTER_SUBJECT`). Unset: `nats.subject`.",
    )
    management: ConsumerManagement = Field(
        default=ConsumerManagement.OBSERVE,
        description=(
            "`managed`: the operator creates and updates the durable (and its dead-letter stream); "
            "`observe`: it only reads the durable's lag."
        ),
    )
    ack_wait_seconds: int = Field(
        default=DEFAULT_ACK_WAIT_SECONDS,
        ge=1,
        le=86400,
        description=(
            "Ack wait; the worker sends in-progress acks every third of it, so a short one only speeds up the "
            "redelivery of a killed worker's commands."
        ),
    )
    max_deliver: int = Field(
        default=DEFAULT_MAX_DELIVER,
        ge=-1,
        description="Deliveries before JetStream gives up on a message (`-1`: unlimited).",
    )
    max_ack_pending: int = Field(
        default=DEFAULT_MAX_ACK_PENDING,
        ge=1,
        description="Unacknowledged messages allowed in flight; keep it >= maxReplicas x maxConcurrent.",
    )
    backoff_seconds: list[int] = Field(
        default_factory=list,
        max_length=32,
        description="Redelivery delays (seconds) per attempt; overrides ackWait for redeliveries.",
    )
    prevent_delete: bool = Field(
        default=True, description="Keep the durable when the pool is deleted (managed consumers only)."
    )

    @model_validator(mode="after")
    def _backoff(self) -> Self:
        if any(value < 1 for value in self.backoff_seconds):
            raise ValueError("consumer.backoffSeconds entries must be >= 1")
        if self.max_deliver == 0:
            raise ValueError("consumer.maxDeliver must be -1 (unlimited) or >= 1")
        if self.max_deliver != -1 and len(self.backoff_seconds) >= self.max_deliver:
            raise ValueError("consumer.backoffSeconds must have fewer entries than consumer.maxDeliver")
        return self


class Fallback(_Model):
    """Replicas KEDA holds while the scaler keeps failing."""

    failure_threshold: int = Field(default=3, ge=1, description="Consecutive scaler failures before fallback.")
    replicas: int = Field(ge=0, description="Replica count during fallback.")


class Autoscaling(_Model):
    """KEDA autoscaling on the consumer's lag (`num_pending + num_ack_pending`)."""

    model_config = ConfigDict(
        json_schema_extra=_cel(
            cel_rule(
                "self.minReplicas <= self.maxReplicas",
                "autoscaling.minReplicas must be <= autoscaling.maxReplicas",
            ),
        )
    )

    enabled: bool = Field(default=True, description="Create a KEDA ScaledObject; the Deployment then has no replicas.")
    min_replicas: int = Field(default=1, ge=0, description="KEDA `minReplicaCount` (0 allows scale to zero).")
    max_replicas: int = Field(default=20, ge=1, description="KEDA `maxReplicaCount`.")
    polling_interval_seconds: int = Field(default=10, ge=1, description="KEDA `pollingInterval`.")
    cooldown_period_seconds: int = Field(default=30, ge=1, description="KEDA `cooldownPeriod`.")
    lag_threshold: int = Field(default=10, ge=1, description="Target lag per replica (trigger `lagThreshold`).")
    activation_lag_threshold: int = Field(
        default=0, ge=0, description="Lag above which the pool wakes from zero (trigger `activationLagThreshold`)."
    )
    fallback: Fallback | None = Field(default=None, description="KEDA fallback while the scaler fails.")
    behavior: dict[str, Any] | None = Field(
        default=None,
        description="HPA `behavior` (scaleUp/scaleDown policies), passed through to KEDA.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    paused: bool = Field(default=False, description="Pause autoscaling (KEDA `autoscaling.keda.sh/paused`).")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling.minReplicas must be <= autoscaling.maxReplicas")
        return self


class KeychainSecretKey(_Model):
    """One Secret key exposed to tools as a keychain entry under ``env``."""

    env: str = Field(pattern=_ENV_NAME, description="Environment variable (and keychain alias) name.")
    secret_name: str = Field(pattern=_SECRET_NAME, max_length=253, description="Secret name.")
    key: str = Field(min_length=1, description="Key inside the Secret.")


class Keychain(_Model):
    """Secrets exposed to tools; the operator computes `NOETL_KEYCHAIN_ENV_VARS` from them."""

    secret_refs: list[SecretName] = Field(
        default_factory=list,
        description="Secrets mounted whole with `envFrom`; every key that is a valid env name becomes an entry.",
    )
    secret_key_refs: list[KeychainSecretKey] = Field(
        default_factory=list, description="Single Secret keys mapped to chosen env names."
    )


class ResourceList(_Model):
    """CPU and memory quantities."""

    cpu: str | None = Field(default=None, pattern=_QUANTITY, description="CPU quantity, e.g. `250m`.")
    memory: str | None = Field(default=None, pattern=_MEMORY, description="Memory quantity, e.g. `512Mi`.")


class Resources(_Model):
    """Container resource requests and limits."""

    requests: ResourceList = Field(
        default_factory=lambda: ResourceList(cpu="100m", memory="256Mi"), description="Resource requests."
    )
    limits: ResourceList = Field(
        default_factory=lambda: ResourceList(cpu="1", memory="1Gi"), description="Resource limits."
    )


class ProbeTiming(_Model):
    """Timing of one HTTP probe (the paths are fixed by the runtime)."""

    initial_delay_seconds: int = Field(default=5, ge=0, description="Delay before the first probe.")
    period_seconds: int = Field(default=10, ge=1, description="Probe period.")
    timeout_seconds: int = Field(default=2, ge=1, description="Probe timeout.")
    failure_threshold: int = Field(default=3, ge=1, description="Failures before the probe fails.")


class Probes(_Model):
    """Liveness (`/healthz`) and readiness (`/readyz`; `/healthz` for runtime rust) probe timing."""

    liveness: ProbeTiming = Field(default_factory=ProbeTiming, description="Liveness probe timing.")
    readiness: ProbeTiming = Field(default_factory=ProbeTiming, description="Readiness probe timing.")


class SharedMemory(_Model):
    """A memory-backed `/dev/shm`; it counts against the memory limit."""

    size_limit: str = Field(default="64Mi", pattern=_MEMORY, description="Size limit of the `/dev/shm` tmpfs.")


class ServiceAccountSpec(_Model):
    """The pods' ServiceAccount."""

    create: bool = Field(default=False, description="Create a ServiceAccount for the pool.")
    name: str | None = Field(
        default=None,
        pattern=_DNS_LABEL,
        max_length=63,
        description="ServiceAccount name. Unset: the pool's Deployment name when created, else `default`.",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations of a created ServiceAccount (e.g. workload identity)."
    )


class DisruptionBudget(_Model):
    """A PodDisruptionBudget limiting voluntary evictions."""

    enabled: bool = Field(default=True, description="Create a PodDisruptionBudget.")
    max_unavailable: int = Field(default=1, ge=1, description="Pods that may be evicted at once.")


_PASSTHROUGH: JsonDict = {"x-kubernetes-preserve-unknown-fields": True}


class NoetlWorkerPoolSpec(_Model):
    """Desired state of one worker pool."""

    model_config = ConfigDict(
        json_schema_extra=_cel(
            cel_rule(
                "!has(self.replicas) || !self.autoscaling.enabled",
                "replicas is only allowed when autoscaling.enabled is false (KEDA owns the replica count)",
                ".replicas",
            ),
            cel_rule(
                "self.runtime != 'rust' || !has(self.nats.tls)",
                "nats.tls is not supported by runtime rust (the upstream worker has no NATS TLS settings)",
                ".nats.tls",
            ),
            cel_rule(
                "self.runtime != 'rust' || !has(self.server.tokenSecretRef)",
                "server.tokenSecretRef is not supported by runtime rust",
                ".server.tokenSecretRef",
            ),
        )
    )

    runtime: Runtime = Field(
        default=Runtime.PYTHON,
        description="`python`: this project's worker image; `rust`: the upstream noetl-worker image and env dialect.",
    )
    pool_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="Pool name reported to the server (`WORKER_POOL_NAME`). Unset: the resource name.",
    )
    image: Image = Field(description="Worker image.")
    image_pull_secrets: list[SecretName] = Field(
        default_factory=list, description="Names of image pull Secrets in the pool's namespace."
    )
    replicas: int | None = Field(
        default=None, ge=0, description="Fixed replica count; only when autoscaling is disabled (default 1)."
    )
    max_concurrent: int = Field(
        default=4, ge=1, le=1024, description="Commands in flight per pod (`WORKER_MAX_CONCURRENT`)."
    )
    heartbeat_interval_seconds: int = Field(
        default=15, ge=1, le=3600, description="Registry heartbeat period (`WORKER_HEARTBEAT_INTERVAL`)."
    )
    log_level: str = Field(
        default="info",
        pattern=r"^(trace|debug|info|warning|warn|error)$",
        description="Worker log level (`WORKER_LOG_LEVEL`, or `RUST_LOG` for runtime rust).",
    )
    server: ServerSettings = Field(default_factory=ServerSettings, description="NoETL control plane.")
    nats: Nats = Field(default_factory=Nats, description="NATS JetStream connection and stream.")
    consumer: Consumer = Field(default_factory=Consumer, description="The durable pull consumer.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="KEDA autoscaling.")
    keychain: Keychain = Field(default_factory=Keychain, description="Secrets exposed to tools.")
    resources: Resources = Field(default_factory=Resources, description="Container resources.")
    probes: Probes = Field(default_factory=Probes, description="Probe timing.")
    shared_memory: SharedMemory = Field(default_factory=SharedMemory, description="`/dev/shm` sizing.")
    metrics_port: int = Field(
        default=9090,
        ge=1024,
        le=65535,
        description="Port of `/metrics`, `/healthz`, `/readyz` (`WORKER_METRICS_BIND`).",
    )
    termination_grace_period_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="Pod grace period; the python worker drains within it minus 10 s (`WORKER_DRAIN_DEADLINE`).",
    )
    service_account: ServiceAccountSpec = Field(default_factory=ServiceAccountSpec, description="Pod ServiceAccount.")
    pod_disruption_budget: DisruptionBudget = Field(
        default_factory=DisruptionBudget, description="PodDisruptionBudget."
    )
    node_selector: dict[str, str] = Field(default_factory=dict, description="Pod `nodeSelector`.")
    affinity: dict[str, Any] | None = Field(
        default=None, description="Pod `affinity` (passthrough).", json_schema_extra=_PASSTHROUGH
    )
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Pod `tolerations` (passthrough).",
        json_schema_extra={"items": {"type": "object", **_PASSTHROUGH}},
    )
    topology_spread_constraints: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Pod `topologySpreadConstraints` (passthrough).",
        json_schema_extra={"items": {"type": "object", **_PASSTHROUGH}},
    )
    priority_class_name: str | None = Field(default=None, max_length=253, description="Pod `priorityClassName`.")
    pod_security_context: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Pod `securityContext`, merged over the secure defaults "
            "(runAsNonRoot, runAsUser/Group 65532, fsGroup 65532, seccomp RuntimeDefault)."
        ),
        json_schema_extra=_PASSTHROUGH,
    )
    security_context: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Container `securityContext`, merged over the secure defaults "
            "(read-only root fs, no privilege escalation, drop ALL capabilities)."
        ),
        json_schema_extra=_PASSTHROUGH,
    )
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Extra pod labels.")
    pod_annotations: dict[str, str] = Field(default_factory=dict, description="Extra pod annotations.")
    env: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Extra container env entries (passthrough); names the operator sets are rejected.",
        json_schema_extra={"items": {"type": "object", **_PASSTHROUGH}},
    )

    @model_validator(mode="after")
    def _cross_field(self) -> Self:
        if self.replicas is not None and self.autoscaling.enabled:
            raise ValueError("replicas is only allowed when autoscaling.enabled is false (KEDA owns the replica count)")
        if self.runtime is Runtime.RUST and self.nats.tls is not None:
            raise ValueError("nats.tls is not supported by runtime rust (the upstream worker has no NATS TLS settings)")
        if self.runtime is Runtime.RUST and self.server.token_secret_ref is not None:
            raise ValueError("server.tokenSecretRef is not supported by runtime rust")
        for index, entry in enumerate(self.env):
            if not isinstance(entry.get("name"), str) or not entry["name"]:
                raise ValueError(f"env[{index}].name must be a non-empty string")
        names = [ref.env for ref in self.keychain.secret_key_refs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"keychain.secretKeyRefs declares {', '.join(duplicates)} more than once")
        return self

    @property
    def effective_replicas(self) -> int:
        """Replica count written to the Deployment when autoscaling is off."""
        return 1 if self.replicas is None else self.replicas

    @property
    def filter_subject(self) -> str:
        """The consumer's filter subject after defaulting."""
        return self.consumer.filter_subject or self.nats.subject


class ObjectMeta(_Model):
    """The part of the pool's metadata the operator reads."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, alias_generator=to_camel)

    name: str = Field(pattern=_DNS_LABEL, max_length=MAX_POOL_NAME_LENGTH, description="Pool name.")
    namespace: str = Field(default="default", pattern=_DNS_LABEL, max_length=63, description="Pool namespace.")
    uid: str | None = Field(default=None, description="Object UID (owner references).")
    generation: int | None = Field(default=None, description="Spec generation.")


class NoetlWorkerPool(_Model):
    """A whole NoetlWorkerPool object as the operator reads it (status is ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, alias_generator=to_camel)

    api_version: str = Field(default=f"{API_GROUP}/{API_VERSION}", description="API version.")
    kind: str = Field(default=KIND, description="Kind.")
    metadata: ObjectMeta = Field(description="Object metadata.")
    spec: NoetlWorkerPoolSpec = Field(description="Pool spec.")

    @property
    def pool_name(self) -> str:
        """The pool name reported to the control plane."""
        return self.spec.pool_name or self.metadata.name


class PoolSpecError(ValueError):
    """A pool that cannot be reconciled, with one human-readable line per problem, each naming the field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _describe(error: ValidationError, prefix: str) -> list[str]:
    problems: list[str] = []
    for item in error.errors():
        location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "value_error":
            # Cross-field validators phrase their message from the spec root ("autoscaling.minReplicas must ...").
            problems.append(f"{prefix}.{message}")
        else:
            problems.append(f"{prefix}{location}: {message}")
    return problems


def parse_spec(raw: object) -> NoetlWorkerPoolSpec:
    """Validate a raw ``spec`` mapping, raising :class:`PoolSpecError` with field-named messages."""
    if not isinstance(raw, dict):
        raise PoolSpecError([f"spec: expected a mapping, got {type(raw).__name__}"])
    try:
        return NoetlWorkerPoolSpec.model_validate(raw)
    except ValidationError as error:
        raise PoolSpecError(_describe(error, "spec")) from None


def parse_pool(raw: object) -> NoetlWorkerPool:
    """Validate a whole NoetlWorkerPool document (as read from YAML or the API)."""
    if not isinstance(raw, dict):
        raise PoolSpecError([f"document: expected a mapping, got {type(raw).__name__}"])
    problems: list[str] = []
    if raw.get("apiVersion") != f"{API_GROUP}/{API_VERSION}" or raw.get("kind") != KIND:
        problems.append(
            f"apiVersion/kind: expected {API_GROUP}/{API_VERSION} {KIND}, "
            f"got {raw.get('apiVersion')!r} {raw.get('kind')!r}"
        )
    metadata: ObjectMeta | None = None
    try:
        metadata = ObjectMeta.model_validate(raw.get("metadata"))
    except ValidationError as error:
        problems.extend(_describe(error, "metadata"))
    spec: NoetlWorkerPoolSpec | None = None
    try:
        spec = parse_spec(raw.get("spec"))
    except PoolSpecError as error:
        problems.extend(error.problems)
    if problems or metadata is None or spec is None:
        raise PoolSpecError(problems)
    return NoetlWorkerPool(metadata=metadata, spec=spec)
