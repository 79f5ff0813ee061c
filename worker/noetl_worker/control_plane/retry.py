"""Retry timing shared by every control-plane call: exponential backoff with full jitter, capped, never
shorter than a server's ``Retry-After``.

Full jitter (a uniform draw between 0 and the exponential step) spreads a pool's retries after an outage
so that the recovering server is not hit by every worker in the same millisecond.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx
from noetl_wire.errors import parse_retry_after

__all__ = ["TRANSIENT_STATUSES", "Backoff", "is_transient_status", "retry_after_of"]

# Statuses that say "not now" rather than "never": timeouts, rate limits and overload.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 502, 503, 504})


def is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUSES


@dataclass(frozen=True, slots=True)
class Backoff:
    """``delay(attempt)`` for attempt 0, 1, 2, …: uniform in [floor, min(cap, initial · multiplier^attempt)]."""

    initial: float = 0.2
    cap: float = 10.0
    multiplier: float = 2.0
    floor: float = 0.05

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.initial * self.multiplier ** min(attempt, 32))
        jittered = random.uniform(min(self.floor, ceiling), ceiling)  # noqa: S311 - jitter, not cryptography
        if retry_after is not None:
            # Honour the server's floor, plus a little jitter so a whole pool does not return in lockstep.
            return max(jittered, retry_after + random.uniform(0, min(1.0, retry_after / 4 + 0.05)))  # noqa: S311
        return jittered


def retry_after_of(response: httpx.Response) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds form), or None."""
    return parse_retry_after(response.headers.get("retry-after"))
