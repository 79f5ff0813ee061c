"""Fault injection: added latency, a share of 503 ``pool_saturated``, outage windows, lost responses.

Faults apply to the NoETL API (``/api/...``) only, never to ``/_standin`` or the health routes, so a
test can always reconfigure or read the stand-in while it misbehaves.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FaultConfig", "FaultDecision", "FaultInjector"]


class FaultConfig(BaseModel):
    """What to inject. All shares are probabilities in [0, 1]; ``limit`` caps how many faults fire."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0.0, ge=0, description="Added to every matching request.")
    saturation_ratio: float = Field(0.0, ge=0, le=1, description="Share answered 503 pool_saturated.")
    saturation_retry_after: float = Field(1.0, ge=0, description="Retry-After of those 503s.")
    outage_seconds: float = Field(0.0, ge=0, description="From now, answer every matching request 503.")
    outage_retry_after: float = Field(1.0, ge=0)
    drop_ratio: float = Field(0.0, ge=0, le=1, description="Share whose response is dropped after the write committed.")
    drop_hold_seconds: float = Field(
        30.0, ge=0, description="How long a dropped response holds the connection before giving up."
    )
    paths: list[str] = Field(default_factory=list, description="Path prefixes to affect; empty = all of /api.")
    methods: list[str] = Field(default_factory=list, description="HTTP methods to affect; empty = all.")
    limit: int | None = Field(None, ge=1, description="Stop injecting after this many faults.")
    seed: int | None = Field(None, description="Seed for reproducible ratios.")


@dataclass(frozen=True, slots=True)
class FaultDecision:
    latency: float = 0.0
    reject: Literal["saturated", "outage"] | None = None
    retry_after: float = 0.0
    drop: bool = False
    hold: float = 0.0


_NONE = FaultDecision()


class FaultInjector:
    """Holds the active ``FaultConfig`` and decides, per request, what to do."""

    def __init__(self) -> None:
        self.config = FaultConfig()
        self._outage_until = 0.0
        self._fired = 0
        self._random = random.Random()  # noqa: S311 - fault sampling, not security
        self.active = False

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._outage_until = time.monotonic() + config.outage_seconds if config.outage_seconds else 0.0
        self._fired = 0
        self._random = random.Random(config.seed)  # noqa: S311
        self.active = config != FaultConfig()

    def clear(self) -> None:
        self.configure(FaultConfig())

    def decide(self, method: str, path: str) -> FaultDecision:
        if not self.active or not path.startswith("/api"):
            return _NONE
        config = self.config
        if config.paths and not any(path.startswith(prefix) for prefix in config.paths):
            return _NONE
        if config.methods and method not in config.methods:
            return _NONE
        if config.limit is not None and self._fired >= config.limit:
            return FaultDecision(latency=config.latency_ms / 1000)
        latency = config.latency_ms / 1000
        if self._outage_until and time.monotonic() < self._outage_until:
            self._fired += 1
            return FaultDecision(latency, reject="outage", retry_after=config.outage_retry_after)
        if config.saturation_ratio and self._random.random() < config.saturation_ratio:
            self._fired += 1
            return FaultDecision(latency, reject="saturated", retry_after=config.saturation_retry_after)
        if config.drop_ratio and self._random.random() < config.drop_ratio:
            self._fired += 1
            return FaultDecision(latency, drop=True, hold=config.drop_hold_seconds)
        return FaultDecision(latency) if latency else _NONE
