"""Variables, the result store, credentials and the keychain, from the wire."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from noetl_wire.credentials import Credential
from noetl_wire.keychain import KeychainEntry
from noetl_wire.results import ResultPutResponse, parse_result_uri
from noetl_wire.variables import SetVariablesResponse, VariableResponse, VariablesResponse

pytestmark = pytest.mark.integration

EID = 770563436223660379


class TestVariables:
    async def test_set_list_read_delete(self, http: httpx.AsyncClient) -> None:
        response = await http.post(
            f"/api/vars/{EID}", json={"variables": {"a": 1, "b": {"x": [1]}}, "source_step": "s"}
        )
        assert response.status_code == 200
        assert SetVariablesResponse.model_validate_json(response.content).var_names == ["a", "b"]
        listing = VariablesResponse.model_validate_json((await http.get(f"/api/vars/{EID}")).content)
        assert (listing.execution_id, listing.count) == (EID, 2)
        assert listing.variables["b"].value == {"x": [1]}
        for expected in (1, 2):
            one = VariableResponse.model_validate_json((await http.get(f"/api/vars/{EID}/a")).content)
            assert (one.value, one.access_count, one.source_step) == (1, expected, "s")
        assert (await http.delete(f"/api/vars/{EID}/a")).json() == {
            "execution_id": EID,
            "var_name": "a",
            "deleted": True,
        }
        assert (await http.get(f"/api/vars/{EID}/a")).status_code == 404
        assert (await http.delete(f"/api/vars/{EID}")).json() == {"execution_id": EID, "deleted_count": 1}

    async def test_numbers_come_back_exactly_as_sent(self, http: httpx.AsyncClient) -> None:
        raw = b'{"variables": {"huge": 1180591620717411303424, "id": 770563436223660379, "f": 0.1}}'
        await http.post("/api/vars/8", content=raw, headers={"content-type": "application/json"})
        body = (await http.get("/api/vars/8/huge")).content
        assert b'"value":1180591620717411303424' in body.replace(b" ", b"")
        assert (await http.get("/api/vars/8/id")).json()["value"] == 770563436223660379

    async def test_same_name_overwrites(self, http: httpx.AsyncClient) -> None:
        await http.post("/api/vars/5", json={"variables": {"k": 1}})
        await http.post("/api/vars/5", json={"variables": {"k": 2}, "var_type": "computed"})
        one = (await http.get("/api/vars/5/k")).json()
        assert (one["value"], one["type"]) == (2, "computed")

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"variables": {}}, 400),
            ({"variables": {"a": 1}, "var_type": "nope"}, 400),
            ({"a": 1}, 422),
            ({"variables": [1]}, 422),
        ],
    )
    async def test_bad_bodies(self, http: httpx.AsyncClient, body: dict[str, object], status: int) -> None:
        response = await http.post("/api/vars/5", json=body)
        assert response.status_code == status
        assert response.json()["detail"]

    async def test_a_missing_variable_is_404(self, http: httpx.AsyncClient) -> None:
        response = await http.get("/api/vars/6/nothing")
        assert response.status_code == 404
        assert "nothing" in response.json()["detail"]


class TestResults:
    async def test_put_then_resolve_by_ref(self, http: httpx.AsyncClient) -> None:
        data = {"rows": [[1, "a"], [2, "b"]], "big": 2**60}
        response = await http.put(
            f"/api/result/{EID}", json={"name": "fetch", "data": data, "scope": "execution", "source_step": "fetch"}
        )
        assert response.status_code == 200
        put = ResultPutResponse.model_validate_json(response.content)
        ref = parse_result_uri(put.ref)
        assert (ref.execution_id, ref.name) == (EID, "fetch")
        encoded = json.dumps(data, separators=(",", ":")).encode()
        assert (put.bytes, put.sha256, put.scope, put.store) == (
            len(encoded),
            hashlib.sha256(encoded).hexdigest(),
            "execution",
            "kv",
        )
        assert put.expires_at is not None
        resolved = await http.get("/api/result/resolve", params={"ref": put.ref})
        assert resolved.json() == data
        by_step = await http.get(f"/api/result/{EID}/fetch")
        assert by_step.json() == data
        meta = (await http.get(f"/api/result/{EID}/fetch", params={"resolve": "false"})).json()
        assert meta["ref"] == put.ref

    async def test_the_legacy_temp_twin_and_tier_choice(self, http: httpx.AsyncClient) -> None:
        small = (await http.put("/api/temp/7", json={"name": "x", "data": 1, "scope": "step"})).json()
        assert (small["store"], small["scope"]) == ("memory", "step")
        forced = (
            await http.put("/api/temp/7", json={"name": "x", "data": None, "store": "s3", "ttl": "forever"})
        ).json()
        assert (forced["store"], forced["expires_at"]) == ("s3", None)

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"name": "n", "data": 1, "scope": "galaxy"}, 400),
            ({"name": "n", "data": 1, "store": "floppy"}, 400),
            ({"name": "n", "data": 1, "ttl": "soon"}, 400),
            ({"name": "n"}, 422),
            ({"data": 1}, 422),
        ],
    )
    async def test_bad_puts(self, http: httpx.AsyncClient, body: dict[str, object], status: int) -> None:
        response = await http.put("/api/result/7", json=body)
        assert response.status_code == status
        assert response.json()["detail"]

    async def test_unknown_refs_are_404_and_a_missing_ref_is_422(self, http: httpx.AsyncClient) -> None:
        assert (
            await http.get("/api/result/resolve", params={"ref": "noetl://execution/1/result/a/b"})
        ).status_code == 404
        assert (await http.get("/api/result/resolve")).status_code == 422
        assert (await http.get("/api/result/1/none")).status_code == 404


class TestCredentials:
    async def test_seeded_credentials_are_read_by_name_or_id(self, http: httpx.AsyncClient) -> None:
        created = await http.post(
            "/api/credentials",
            json={
                "name": "pg_main",
                "credential_type": "postgres",
                "data": {"db_host": "h", "db_password": "p"},
                "tags": "db, main",
                "description": "test db",
            },
        )
        assert created.status_code == 200
        assert "data" not in created.json()
        by_name = await http.get("/api/credentials/pg_main", params={"include_data": "true", "execution_id": EID})
        credential = Credential.model_validate_json(by_name.content)
        assert (credential.type, credential.tags, credential.data) == (
            "postgres",
            ["db", "main"],
            {"db_host": "h", "db_password": "p"},
        )
        by_id = await http.get(f"/api/credentials/{credential.id}")
        assert by_id.json()["name"] == "pg_main"
        assert "data" not in by_id.json()

    async def test_unknown_credentials_are_404(self, http: httpx.AsyncClient) -> None:
        response = await http.get("/api/credentials/nope")
        assert (response.status_code, response.json()) == (404, {"detail": "Credential not found"})

    async def test_bad_credential_bodies_are_422(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/api/credentials", json={"name": "x"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "data"]
        assert (await http.get("/api/credentials/x", params={"include_data": "maybe"})).status_code == 422


class TestKeychain:
    async def test_put_get_expire_delete(self, http: httpx.AsyncClient) -> None:
        missing = KeychainEntry.model_validate_json((await http.get("/api/keychain/9/tok")).content)
        assert missing.status == "not_found"
        put = await http.post(
            "/api/keychain/9/tok", json={"token_data": {"access_token": "t"}, "credential_type": "bearer"}
        )
        assert put.json()["cache_key"] == "tok:9:global"
        entry = KeychainEntry.model_validate_json((await http.get("/api/keychain/9/tok")).content)
        assert (entry.status, entry.token_data, entry.ttl_seconds) == ("success", {"access_token": "t"}, None)
        await http.post(
            "/api/keychain/9/tok",
            json={
                "token_data": {"a": 1},
                "credential_type": "bearer",
                "scope_type": "local",
                "execution_id": 5,
                "ttl_seconds": 0,
            },
        )
        local = (await http.get("/api/keychain/9/tok", params={"scope_type": "local", "execution_id": 5})).json()
        assert (local["status"], local["expired"], local["token_data"]) == ("expired", True, None)
        assert (await http.delete("/api/keychain/9/tok")).json()["deleted"] is True

    async def test_bad_keychain_requests(self, http: httpx.AsyncClient) -> None:
        assert (await http.get("/api/keychain/9/tok", params={"scope_type": "cosmic"})).status_code == 422
        assert (await http.get("/api/keychain/9/tok", params={"scope_type": "local"})).status_code == 400
        assert (await http.post("/api/keychain/9/tok", json={"token_data": {}})).status_code == 422
        assert (await http.get("/api/keychain/x/tok")).status_code == 422
