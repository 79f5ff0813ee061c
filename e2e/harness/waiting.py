"""Polling with a deadline that says what it was waiting for when it gives up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WaitTimeout", "wait_for"]

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold in time; an AssertionError so pytest reports it as a failed expectation."""


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float,
    poll: float,
    describe: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            state = f"; last state: {describe()}" if describe is not None else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{state}")
        time.sleep(poll)
