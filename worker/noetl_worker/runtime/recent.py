"""Recently finished commands, so that a duplicate delivery is acked without claiming or running again.

Bounded in size and age: duplicates arrive within the server's re-publish window (tens of seconds) or
a consumer's redelivery window, not hours later; the claim arbitration covers anything older.
"""

from __future__ import annotations

import time
from collections import OrderedDict

__all__ = ["RecentCommands"]


class RecentCommands:
    def __init__(self, *, capacity: int = 10_000, ttl: float = 3600.0) -> None:
        self._capacity = capacity
        self._ttl = ttl
        self._entries: OrderedDict[int, float] = OrderedDict()

    def add(self, event_id: int) -> None:
        self._entries[event_id] = time.monotonic() + self._ttl
        self._entries.move_to_end(event_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __contains__(self, event_id: object) -> bool:
        expiry = self._entries.get(event_id)  # type: ignore[call-overload]
        if expiry is None:
            return False
        if expiry < time.monotonic():
            del self._entries[event_id]  # type: ignore[arg-type]
            return False
        return True

    def __len__(self) -> int:
        return len(self._entries)
