"""Context-field externalisation: oversized command fields arrive as result references a worker resolves."""

from __future__ import annotations

import httpx
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_wire.commands import ClaimedCommand, is_result_ref
from noetl_wire.results import parse_result_uri

from tests.standin.conftest import StandinFactory
from tests.standin.helpers import claim

pytestmark = pytest.mark.integration


async def test_large_fields_become_references_and_small_ones_stay_inline(standin_factory: StandinFactory) -> None:
    url = standin_factory(externalize_context_field_bytes=200).url
    big = {"code": "x = 1\n" * 100}
    async with StandinAdmin(url) as admin, httpx.AsyncClient(base_url=url) as http:
        job = await admin.submit_job([{"name": "big", "kind": "python", "tool_config": big, "input": {"n": 1}}])
        command = job.commands["big"]
        claimed = ClaimedCommand.model_validate_json((await claim(http, command.event_id)).content)
        tool_config = claimed.context.tool_config
        assert is_result_ref(tool_config)
        assert isinstance(tool_config, dict)
        assert parse_result_uri(tool_config["ref"]).name == "big_tool_config"
        assert tool_config["correlation"] == {
            "command_id": command.command_id,
            "kind": "command_context_field",
            "field": "tool_config",
            "step": "big",
        }
        assert claimed.context.input == {"n": 1}
        resolved = await http.get("/api/result/resolve", params={"ref": tool_config["ref"]})
        assert resolved.json() == big


async def test_off_by_default(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    big = {"code": "x = 1\n" * 5000}
    job = await admin.submit_job([{"name": "big", "kind": "python", "tool_config": big}])
    claimed = (await claim(http, job.commands["big"].event_id)).json()
    assert claimed["context"]["tool_config"] == big
