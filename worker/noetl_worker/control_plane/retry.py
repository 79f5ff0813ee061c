"""Retry timing shared by every control-plane call and every nak: backoff with jitter, capped.

Without a hint the delay is exponential with full jitter (a uniform draw up to the exponential step), which
spreads a pool's retries after an outage so the recovering server is not hit by every worker in the same
millisecond. With a ``Retry-After`` the server said when to come back: that is the base, stretched gently
on repeated refusals (x1.5 per attempt, at most x10) instead of exponentially, so one unlucky request is
not parked for the full cap while the server is already answering others.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from noetl_wire.errors import parse_retry_after

__all__ = ["TRANSIENT_STATUSES", "Backoff", "is_transient_status", "retry_after_of"]

_RETRY_AFTER_GROWTH = 1.5
_RETRY_AFTER_MAX_FACTOR = 10.0

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
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            factor = min(_RETRY_AFTER_GROWTH ** max(0, attempt), _RETRY_AFTER_MAX_FACTOR)
            stretched = retry_after * factor * random.uniform(1.0, 1.25)  # noqa: S311 - jitter, not cryptography
            return max(retry_after, min(self.cap, stretched))
        ceiling = min(self.cap, self.initial * self.multiplier ** min(attempt, 32))
        return random.uniform(min(self.floor, ceiling), ceiling)  # noqa: S311 - jitter, not cryptography


class _HasHeaders(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...


def retry_after_of(response: _HasHeaders) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds form), or None."""
    return parse_retry_after(response.headers.get("retry-after"))
