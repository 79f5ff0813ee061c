"""Worker registry, vars, credentials, keychain and pool bodies, checked against real and spec shapes."""

from __future__ import annotations

import pytest
from noetl_wire.credentials import Credential, CredentialCreate
from noetl_wire.keychain import KeychainEntry, KeychainScope, keychain_cache_key
from noetl_wire.pool import PoolStatus
from noetl_wire.variables import SetVariablesRequest, VariablesResponse
from noetl_wire.workers import HeartbeatRequest, RegisterResponse, WorkerRegistration
from pydantic import ValidationError

from tests.wire.capture import http_records, startup_records

pytestmark = pytest.mark.unit


def test_the_real_registration_validates_and_round_trips() -> None:
    (_, record), *_ = startup_records()
    registration = WorkerRegistration.model_validate(record["req_body"])
    assert registration.name == "worker-0ba74cc1"
    assert registration.model_dump(mode="json", exclude_unset=True) == record["req_body"]
    assert RegisterResponse.model_validate(record["resp_body"]).runtime_id == "385281470698094592"


def test_registration_status_is_lower_cased_and_capacity_non_negative() -> None:
    assert WorkerRegistration(name="w", status="READY").status == "ready"
    with pytest.raises(ValidationError, match="capacity"):
        WorkerRegistration(name="w", capacity=-1)


def test_heartbeat_may_carry_a_registration() -> None:
    beat = HeartbeatRequest.model_validate({"name": "w", "registration": {"name": "w", "runtime": "python"}})
    assert beat.registration is not None
    assert beat.registration.runtime == "python"


def test_real_pool_status_validates() -> None:
    records = http_records("GET", "/api/pool/status")
    assert records
    for _, record in records:
        assert PoolStatus.model_validate(record["resp_body"]).status == "ok"


def test_vars_need_the_variables_envelope() -> None:
    assert SetVariablesRequest.model_validate({"variables": {"a": 1}}).var_type == "user_defined"
    with pytest.raises(ValidationError, match="variables"):
        SetVariablesRequest.model_validate({"a": 1})
    with pytest.raises(ValidationError, match="var_type"):
        SetVariablesRequest.model_validate({"variables": {"a": 1}, "var_type": "bogus"})
    listing = VariablesResponse.model_validate({"execution_id": "5", "count": 1, "variables": {"a": {"value": 1}}})
    assert listing.execution_id == 5
    assert listing.variables["a"].value == 1


def test_credentials_accept_alias_and_comma_tags_and_stringify_ids() -> None:
    create = CredentialCreate.model_validate({"name": "pg", "credential_type": "postgres", "data": {}, "tags": "a, b"})
    assert (create.type, create.tags) == ("postgres", ["a", "b"])
    assert Credential.model_validate({"id": 12, "name": "pg", "type": "postgres"}).id == "12"
    with pytest.raises(ValidationError, match="data"):
        CredentialCreate.model_validate({"name": "pg"})


def test_keychain_cache_keys_follow_the_server() -> None:
    assert keychain_cache_key("tok", 7, KeychainScope.GLOBAL, None) == "tok:7:global"
    assert keychain_cache_key("tok", 7, KeychainScope.LOCAL, 9) == "tok:7:9"
    assert keychain_cache_key("tok", 7, KeychainScope.SHARED, 9) == "tok:7:shared:9"
    with pytest.raises(ValueError, match="needs an execution_id"):
        keychain_cache_key("tok", 7, KeychainScope.LOCAL, None)
    entry = KeychainEntry.model_validate({"status": "not_found", "keychain_name": "tok", "catalog_id": "7"})
    assert entry.catalog_id == 7
