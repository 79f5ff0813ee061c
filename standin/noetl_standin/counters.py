"""Counters for assertions and benchmarks: requests per route, claim outcomes, publishes, faults."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["Counters"]


class Counters:
    """Plain in-process counters (the stand-in is one process; no locking needed on one event loop)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.claims: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.publish: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()

    def reset(self) -> None:
        for counter in (self.requests, self.statuses, self.claims, self.events, self.publish, self.faults):
            counter.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "claims": dict(self.claims),
            "events": dict(self.events),
            "publish": dict(self.publish),
            "faults": dict(self.faults),
        }
