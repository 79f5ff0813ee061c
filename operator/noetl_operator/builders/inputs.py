"""What the builders need to know about the cluster, gathered by the reconciler (or by ``render``)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ResolvedSecrets"]


@dataclass(frozen=True)
class ResolvedSecrets:
    """The referenced Secrets as far as the manifests depend on them (never their values).

    ``envfrom_keys`` maps each ``keychain.secretRefs`` Secret to its keys, because those keys become
    environment variables and so keychain entries. ``checksum`` digests every referenced Secret's data;
    it goes into a pod-template annotation so that rotating a Secret rolls the pods. Both are empty
    when rendering offline without the Secrets.
    """

    envfrom_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    checksum: str | None = None
