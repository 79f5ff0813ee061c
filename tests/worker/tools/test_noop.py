"""``noop``: the capture's ``{"status": "noop", "step": ...}``."""

from __future__ import annotations

import pytest
from noetl_worker.tools.noop import NoopTool

from .conftest import MakeContext

pytestmark = pytest.mark.unit


async def test_noop_reports_its_step_like_the_python_worker(ctx: MakeContext) -> None:
    result = await NoopTool().run({"spec": None, "output": None}, ctx(step="end"))
    assert result.ok
    assert result.data == {"status": "noop", "step": "end"}


async def test_noop_result_and_message_are_rendered(ctx: MakeContext) -> None:
    context = ctx(variables={"start": {"value": 14}})
    assert (await NoopTool().run({"result": {"v": "{{ start.value }}"}}, context)).data == {"v": 14}
    assert (await NoopTool().run({"message": "at {{ step }}"}, context)).data == {
        "status": "noop",
        "step": "step1",
        "message": "at step1",
    }
