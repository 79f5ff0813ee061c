"""Bad input never crashes the stand-in and never yields a 500: every route answers 4xx with a ``detail``.

(The one documented exception is the reference-only contract on event payloads, which the NoETL
server itself answers with 500; see test_events.)
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.standin import StandinProcess

pytestmark = pytest.mark.integration

WRITE_ROUTES = [
    ("POST", "/api/commands/1/claim"),
    ("POST", "/api/events"),
    ("POST", "/api/events/batch"),
    ("POST", "/api/vars/1"),
    ("PUT", "/api/result/1"),
    ("POST", "/api/credentials"),
    ("POST", "/api/keychain/1/k"),
    ("POST", "/api/worker/pool/register"),
    ("POST", "/api/worker/pool/heartbeat"),
    ("POST", "/api/worker/pool/deregister"),
    ("POST", "/_standin/jobs"),
    ("PUT", "/_standin/faults"),
]

BAD_BODIES = [
    pytest.param(b"{not json", id="malformed"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2, 3]", id="array"),
    pytest.param(b'"text"', id="string"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"execution_id": {"a": 1}, "name": 3, "worker_id": [], "events": "x", "variables": 1}', id="types"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    pytest.param(b'{"execution_id": 123456789012345678901234567890}', id="huge-int"),
    pytest.param(b"[" * 100_000, id="deep-nesting"),
]


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
@pytest.mark.parametrize("body", BAD_BODIES)
async def test_bad_bodies_get_a_4xx_with_a_detail(
    http: httpx.AsyncClient, standin: StandinProcess, method: str, path: str, body: bytes
) -> None:
    response = await http.request(method, path, content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert standin.alive()


@pytest.mark.parametrize(
    "path",
    [
        "/api/commands/abc/claim",
        "/api/commands/-1/claim",
        "/api/commands/99999999999999999999999/claim",
        "/api/vars/1.5",
        "/api/result/x",
        "/api/keychain/abc/k",
    ],
)
async def test_bad_ids_in_paths_are_422(http: httpx.AsyncClient, path: str) -> None:
    method = "PUT" if "/result/" in path else "POST"
    response = await http.request(method, path, json={"worker_id": "w", "variables": {"a": 1}, "token_data": {}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "path"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/nothing", 404), ("GET", "/api/events", 405), ("DELETE", "/api/commands/1/claim", 405)],
)
async def test_unknown_routes_and_methods_have_json_details(
    http: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await http.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"]


async def test_bad_query_values_are_422(http: httpx.AsyncClient) -> None:
    for path, params in [
        ("/_standin/events", {"execution_id": "x"}),
        ("/api/credentials/a", {"include_data": "perhaps"}),
        ("/api/credentials/a", {"execution_id": "-1"}),
    ]:
        response = await http.get(path, params=params)
        assert response.status_code == 422, (path, params)
        assert response.json()["detail"][0]["loc"][0] == "query"
