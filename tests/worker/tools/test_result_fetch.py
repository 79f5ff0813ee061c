"""``result_fetch`` against the stand-in's result store, through the worker's control-plane client."""

from __future__ import annotations

import pytest
from noetl_worker.control_plane.client import BoundControlPlane
from noetl_worker.tools.base import ToolConfigError, ToolError, ToolStatus
from noetl_worker.tools.result_fetch import ResultFetchTool

from .conftest import MakeContext, seed_result

pytestmark = pytest.mark.integration


async def test_a_stored_result_comes_back_as_data(
    ctx: MakeContext, control_plane: BoundControlPlane, standin_url: str
) -> None:
    stored = {"rows": [{"id": 1}, {"id": 2}], "row_count": 2}
    ref = seed_result(standin_url, 7, "big_step", stored)
    assert ref.startswith("noetl://execution/7/result/big_step/")
    result = await ResultFetchTool().run({"ref": ref}, ctx(control_plane=control_plane))
    assert result.ok
    assert result.data == stored


async def test_the_ref_can_be_templated_from_a_previous_step(
    ctx: MakeContext, control_plane: BoundControlPlane, standin_url: str
) -> None:
    ref = seed_result(standin_url, 7, "upstream", [1, 2, 3])
    context = ctx(control_plane=control_plane, variables={"upstream": {"reference": {"ref": ref}}})
    result = await ResultFetchTool().run({"ref": "{{ upstream.reference.ref }}"}, context)
    assert result.data == [1, 2, 3]


async def test_an_unknown_ref_is_an_error_result(ctx: MakeContext, control_plane: BoundControlPlane) -> None:
    ref = "noetl://execution/7/result/missing/deadbeef"
    result = await ResultFetchTool().run({"ref": ref}, ctx(control_plane=control_plane))
    assert result.status is ToolStatus.ERROR
    assert result.error == f"Result not found: {ref}"


async def test_without_a_control_plane_it_says_so(ctx: MakeContext) -> None:
    with pytest.raises(ToolError, match="needs the control plane"):
        await ResultFetchTool().run({"ref": "noetl://execution/1/result/a/b"}, ctx())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: result_fetch.ref: required"),
        ({"ref": "http://x"}, "Configuration error: result_fetch.ref: must be a noetl:// reference"),
        ({"ref": "noetl://x", "prefer": "carrier-pigeon"}, "Configuration error: result_fetch.prefer: expected"),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await ResultFetchTool().run(config, ctx())
    assert str(err.value).startswith(message)
