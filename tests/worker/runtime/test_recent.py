"""Recently finished commands: bounded in size and age."""

from __future__ import annotations

import time

import pytest
from noetl_worker.runtime.recent import RecentCommands

pytestmark = pytest.mark.unit


def test_remembers_until_capacity_evicts_the_oldest() -> None:
    recent = RecentCommands(capacity=2)
    recent.add(1)
    recent.add(2)
    assert 1 in recent
    recent.add(3)
    assert 1 not in recent
    assert 2 in recent
    assert 3 in recent
    assert len(recent) == 2


def test_forgets_after_the_ttl() -> None:
    recent = RecentCommands(ttl=0.05)
    recent.add(7)
    assert 7 in recent
    time.sleep(0.06)
    assert 7 not in recent
