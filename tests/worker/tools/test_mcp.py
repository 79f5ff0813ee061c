"""``mcp`` against a real MCP server (the ``mcp`` SDK, streamable HTTP) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from noetl_worker.tools.base import ToolConfigError
from noetl_worker.tools.mcp import McpTool, health_url

from .conftest import MakeContext
from .peers import mcp_app, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sse_server() -> Iterator[str]:
    with serving(mcp_app()) as url:
        yield f"{url}/mcp"


@pytest.fixture(scope="module")
def json_server() -> Iterator[str]:
    with serving(mcp_app(json_response=True)) as url:
        yield f"{url}/mcp"


@pytest.mark.parametrize("server_fixture", ["sse_server", "json_server"])
async def test_tools_call_returns_text_and_result(
    request: pytest.FixtureRequest, ctx: MakeContext, server_fixture: str
) -> None:
    endpoint = request.getfixturevalue(server_fixture)
    result = await McpTool().run({"endpoint": endpoint, "tool": "add", "arguments": {"a": 2, "b": 40}}, ctx())
    assert result.ok
    data = result.data
    assert isinstance(data, dict)
    assert data["status"] == "ok", data
    assert data["text"] == "42"
    assert data["tool"] == "add"
    assert data["arguments"] == {"a": 2, "b": 40}
    assert data["server"] == "kubernetes"
    assert data["result"]["isError"] is False
    assert data["initialize"]["serverInfo"]["name"] == "noetl-test"


async def test_tools_list(sse_server: str, ctx: MakeContext) -> None:
    result = await McpTool().run({"url": sse_server, "method": "tools/list"}, ctx())
    tools = result.data["result"]["tools"]
    assert sorted(tool["name"] for tool in tools) == ["add", "echo", "fail"]


async def test_arguments_as_json_text_and_templates(sse_server: str, ctx: MakeContext) -> None:
    context = ctx(variables={"workload": {"msg": "hello"}})
    result = await McpTool().run(
        {"url": sse_server, "tool_name": "echo", "args": '{"text": "{{ workload.msg }} world"}'}, context
    )
    assert result.data["text"] == "hello world"


async def test_endpoint_from_the_environment(
    sse_server: str, ctx: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOETL_MCP_MY_TOOLS_ENDPOINT", sse_server)
    result = await McpTool().run({"server": "my-tools", "tool": "add", "arguments": {"a": 1, "b": 1}}, ctx())
    assert result.data["text"] == "2"
    assert result.data["endpoint"] == sse_server
    monkeypatch.delenv("NOETL_MCP_MY_TOOLS_ENDPOINT")
    monkeypatch.setenv("NOETL_MCP_MY_TOOLS_URL", sse_server)
    again = await McpTool().run({"server": "my-tools", "tool": "add", "arguments": {"a": 2, "b": 2}}, ctx())
    assert again.data["text"] == "4"


async def test_a_failing_tool_and_an_unknown_method_are_reported_in_data(sse_server: str, ctx: MakeContext) -> None:
    failed = await McpTool().run({"url": sse_server, "tool": "fail", "arguments": {"reason": "nope"}}, ctx())
    assert failed.ok
    assert failed.data["result"]["isError"] is True
    unknown = await McpTool().run({"url": sse_server, "method": "resources/teleport"}, ctx())
    assert unknown.ok
    assert unknown.data["status"] == "error"
    assert unknown.data["error"].startswith("JSON-RPC error: ")


async def test_an_unreachable_server_is_an_error_status_in_data(ctx: MakeContext) -> None:
    result = await McpTool().run({"url": "http://127.0.0.1:1/mcp", "tool": "add"}, ctx())
    assert result.data["status"] == "error"
    assert "ConnectError" in result.data["error"]


async def test_missing_tool_name_is_reported_in_data(sse_server: str, ctx: MakeContext) -> None:
    result = await McpTool().run({"url": sse_server}, ctx())
    assert result.data["error"] == "tools/call needs `tool` (the MCP tool name)"


async def test_health(sse_server: str, ctx: MakeContext) -> None:
    result = await McpTool().run({"url": sse_server, "method": "health"}, ctx())
    assert result.data == {"status": "ok", "server": "kubernetes", "endpoint": sse_server, "method": "health",
                           "healthy": True, "text": "ok"}  # fmt: skip


def test_health_url_replaces_transport_paths() -> None:
    assert health_url("http://h:1/mcp") == "http://h:1/healthz"
    assert health_url("http://h:1/api/sse") == "http://h:1/api/healthz"
    assert health_url("http://h:1/base") == "http://h:1/base/healthz"


async def test_secrets_in_arguments_are_not_echoed(sse_server: str, ctx: MakeContext) -> None:
    context = ctx(secrets={"TOKEN": "very-secret-token"})
    result = await McpTool().run({"url": sse_server, "tool": "add", "arguments": {"a": 1, "b": 2,
                                  "note": "{{ keychain.TOKEN }}"}}, context)  # fmt: skip
    assert "very-secret-token" not in str(result.to_json())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"server": "nowhere-xyz"},
            "Configuration error: mcp.endpoint: required: set it, or NOETL_MCP_NOWHERE_XYZ_ENDPOINT",
        ),
        ({"url": "ftp://x"}, "Configuration error: mcp.endpoint: must be an http:// or https:// URL"),
        ({"url": "http://x", "arguments": "[1]"}, "Configuration error: mcp.arguments: expected an object"),
        (
            {"url": "http://x", "arguments": "{bad"},
            "Configuration error: mcp.arguments: a string must be a JSON object",
        ),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await McpTool().run(config, ctx())
    assert str(err.value).startswith(message)
