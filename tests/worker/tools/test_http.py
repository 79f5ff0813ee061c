"""``http`` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from noetl_worker.tools.base import ToolConfigError, ToolContext, ToolError, ToolStatus
from noetl_worker.tools.http import HttpTool

from .conftest import MakeContext
from .peers import echo_app, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with serving(echo_app()) as url:
        yield url


@pytest.fixture
async def tool() -> AsyncIterator[HttpTool]:
    http = HttpTool()
    yield http
    await http.aclose()


async def test_get_with_query_params_and_headers(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    result = await tool.run(
        {"url": f"{peer}/echo", "params": {"page": 2, "flag": True, "skip": None}, "headers": {"X-Trace": "abc"}},
        ctx(),
    )
    assert result.ok
    assert result.exit_code == 0
    assert isinstance(result.data, dict)
    echoed = result.data["body"]
    assert isinstance(echoed, dict)
    assert echoed["method"] == "GET"
    assert echoed["query"] == {"page": "2", "flag": "true"}
    assert echoed["headers"]["x-trace"] == "abc"
    assert result.data["status_code"] == 200
    assert result.data["data"] == echoed
    assert result.data["headers"]["content-type"] == "application/json"


async def test_json_form_and_raw_bodies(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    as_json = await tool.run({"url": f"{peer}/echo", "method": "post", "json": {"a": [1, 2]}}, ctx())
    body = as_json.data["body"]
    assert json.loads(body["body"]) == {"a": [1, 2]}
    assert body["headers"]["content-type"] == "application/json"

    as_form = await tool.run({"url": f"{peer}/echo", "method": "PUT", "form": {"x": 1, "y": "a b"}}, ctx())
    assert as_form.data["body"]["body"] == "x=1&y=a+b"

    raw = await tool.run({"url": f"{peer}/echo", "method": "PATCH", "body": "raw text"}, ctx())
    assert raw.data["body"]["body"] == "raw text"


async def test_templated_values_are_rendered_from_the_context(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    context = ctx(variables={"base": peer, "workload": {"id": 5}})
    result = await tool.run({"url": "{{ base }}/echo/items/{{ workload.id }}"}, context)
    assert result.data["body"]["path"] == "/echo/items/5"


async def test_non_2xx_is_an_error_result_with_the_body(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    result = await tool.run({"url": f"{peer}/status/503"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error == "HTTP 503 response"
    assert result.exit_code == 1
    assert result.data["body"] == {"error": "as requested", "code": 503}


async def test_text_and_binary_response_types(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    text = await tool.run({"url": f"{peer}/text", "response_type": "text"}, ctx())
    assert text.data["body"] == "hello, world"
    binary = await tool.run({"url": f"{peer}/binary", "response_type": "binary"}, ctx())
    payload = binary.data["body"]
    assert payload["size"] == 256
    assert base64.b64decode(payload["base64"]) == bytes(range(256))


async def test_redirects_are_followed_or_not_as_configured(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    followed = await tool.run({"url": f"{peer}/redirect"}, ctx())
    assert followed.data["status_code"] == 200
    kept = await tool.run({"url": f"{peer}/redirect", "follow_redirects": False}, ctx())
    assert kept.data["status_code"] == 302
    assert kept.status is ToolStatus.ERROR
    with pytest.raises(ToolError, match="TooManyRedirects"):
        await tool.run({"url": f"{peer}/redirect", "max_redirects": 0}, ctx())


async def test_timeout_is_a_timeout_result(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    result = await tool.run({"url": f"{peer}/slow?s=5", "timeout_seconds": 0.3}, ctx())
    assert result.status is ToolStatus.TIMEOUT
    assert result.error == "Execution timed out after 0.3 seconds"


async def test_the_command_deadline_caps_the_timeout(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    result = await tool.run({"url": f"{peer}/slow?s=5", "timeout_seconds": 60}, ctx(timeout=0.3))
    assert result.status is ToolStatus.TIMEOUT


async def test_refused_connection_is_a_named_http_error(tool: HttpTool, ctx: MakeContext) -> None:
    with pytest.raises(ToolError, match=r"^HTTP error: GET http://127\.0\.0\.1:1/x: ConnectError"):
        await tool.run({"url": "http://127.0.0.1:1/x?token=secret"}, ctx())


@pytest.mark.parametrize(
    ("auth", "secrets", "header", "expected"),
    [
        ({"type": "bearer", "credential": "api"}, {"api": "tok-1"}, "authorization", "Bearer tok-1"),
        ({"type": "bearer", "token": "literal"}, {}, "authorization", "Bearer literal"),
        (
            {"type": "basic", "credential": "api", "username": "bob"},
            {"api": "pw"},
            "authorization",
            "Basic " + base64.b64encode(b"bob:pw").decode(),
        ),
        ({"type": "api_key", "credential": "api", "header": "X-Key"}, {"api": "k-9"}, "x-key", "k-9"),
        ({"type": "api_key", "credential": "api"}, {"api": "k-9"}, "x-api-key", "k-9"),
    ],
)
async def test_auth_from_the_keychain(
    tool: HttpTool, peer: str, ctx: MakeContext, auth: dict[str, str], secrets: dict[str, str], header: str,
    expected: str,
) -> None:  # fmt: skip
    result = await tool.run({"url": f"{peer}/echo", "auth": auth}, ctx(secrets=secrets))
    assert result.data["body"]["headers"][header] == expected


async def test_keychain_templates_resolve_and_secrets_are_not_logged(
    tool: HttpTool, peer: str, ctx: MakeContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    context = ctx(secrets={"API_TOKEN": "s3cr3t-value"})
    result = await tool.run({"url": f"{peer}/echo", "headers": {"X-Token": "{{ keychain.API_TOKEN }}"}}, context)
    assert result.data["body"]["headers"]["x-token"] == "s3cr3t-value"
    assert "s3cr3t-value" not in caplog.text


async def test_secrets_are_not_reachable_outside_keychain(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    context = ctx(secrets={"API_TOKEN": "s3cr3t-value"})
    result = await tool.run({"url": f"{peer}/echo", "headers": {"X-Token": "[{{ API_TOKEN }}]"}}, context)
    assert result.data["body"]["headers"]["x-token"] == "[]"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: http.url: required"),
        ({"url": "ftp://x"}, "Configuration error: http.url: must be an absolute http:// or https:// URL"),
        ({"url": "http://x", "method": "BREW"}, "Configuration error: http.method: unsupported method 'BREW'"),
        (
            {"url": "http://x", "timeout_seconds": "soon"},
            "Configuration error: http.timeout_seconds: expected a number",
        ),
        ({"url": "http://x", "headers": [1]}, "Configuration error: http.headers: expected an object, got a list"),
        ({"url": "http://x", "response_type": "xml"}, "Configuration error: http.response_type: expected json"),
        ({"url": "http://x", "auth": {"type": "oauth"}}, "Configuration error: http.auth.type: unsupported auth type"),
        ({"url": "http://x", "auth": {"type": "bearer", "credential": "gone"}}, "http.auth.credential: secret 'gone'"),
        ({"url": "http://x", "auth": "alias"}, "Configuration error: http.auth: an unresolved credential alias"),
        ({"url": "{{ nope.x }}"}, "Configuration error: http.url: template error"),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await HttpTool().run(config, ctx())
    assert str(err.value).startswith(message) or message in str(err.value)


async def test_cookies_never_carry_over_between_commands(tool: HttpTool, peer: str, ctx: MakeContext) -> None:
    await tool.run({"url": f"{peer}/cookie"}, ctx())
    later = await tool.run({"url": f"{peer}/echo"}, ctx())
    assert "cookie" not in later.data["body"]["headers"]


async def test_the_control_plane_client_and_its_token_are_out_of_reach(
    tool: HttpTool, peer: str, ctx: MakeContext
) -> None:
    # The worker's control-plane client carries the bearer token in its default headers, so the tool
    # context deliberately offers no handle to it; a request with no configured auth sends none.
    assert "http" not in {f.name for f in dataclasses.fields(ToolContext)}
    result = await tool.run({"url": f"{peer}/echo"}, ctx())
    assert "authorization" not in result.data["body"]["headers"]


async def test_a_response_over_the_size_limit_is_an_error_not_a_memory_blowup(
    tool: HttpTool, peer: str, ctx: MakeContext
) -> None:
    result = await tool.run({"url": f"{peer}/binary", "max_response_bytes": 100}, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error == "HTTP response body larger than 100 bytes (max_response_bytes)"


async def test_a_templated_header_value_cannot_smuggle_in_another_header(
    tool: HttpTool, peer: str, ctx: MakeContext
) -> None:
    context = ctx(variables={"workload": {"v": "ok\r\nX-Injected: yes"}})
    with pytest.raises(
        ToolConfigError, match=r"^Configuration error: http\.headers\.X-Value: value contains a line break"
    ):
        await tool.run({"url": f"{peer}/echo", "headers": {"X-Value": "{{ workload.v }}"}}, context)
    with pytest.raises(ToolConfigError, match=r"http\.headers\.Bad Name: not a valid HTTP header name"):
        await tool.run({"url": f"{peer}/echo", "headers": {"Bad Name": "x"}}, ctx())
