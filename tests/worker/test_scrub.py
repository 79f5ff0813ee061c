"""The scrubber: sensitive keys, secret-shaped strings, and known secret values anywhere in text."""

from __future__ import annotations

import pytest
from noetl_worker.scrub import REDACTED, Scrubber, is_sensitive_key, looks_secret

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("key", ["password", "DB-Password", "api_key", "Authorization", "client_secret", "author"])
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", ["name", "rows", "count", "status"])
def test_ordinary_keys(key: str) -> None:
    assert not is_sensitive_key(key)


@pytest.mark.parametrize(
    "value",
    [
        "Bearer abc.def.ghi",
        "basic dXNlcjpwYXNz",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "sk-ant-abcdefghijklmnop",
        "token=ghp_abcdefghijklmnopqrstuv",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_secret_shaped_strings(value: str) -> None:
    assert looks_secret(value)
    assert Scrubber().value({"note": value}) == {"note": REDACTED}


@pytest.mark.parametrize("value", ["hello world", "770563436223660379", "sk-short", "bearer"])
def test_ordinary_strings_are_kept(value: str) -> None:
    assert not looks_secret(value)


def test_values_are_scrubbed_recursively_without_touching_the_input() -> None:
    data = {"rows": [{"user": "a", "password": "p"}], "n": 3, "ok": True, "cfg": {"token": {"nested": 1}}}
    scrubbed = Scrubber().value(data)
    assert scrubbed == {"rows": [{"user": "a", "password": REDACTED}], "n": 3, "ok": True, "cfg": {"token": REDACTED}}
    assert data["rows"][0]["password"] == "p"  # type: ignore[index]


def test_known_secrets_are_cut_out_of_any_text() -> None:
    scrubber = Scrubber(["s3cr3t-value"]).with_secrets(["another-one"])
    assert scrubber.text("connect failed for s3cr3t-value and another-one") == (
        f"connect failed for {REDACTED} and {REDACTED}"
    )
    assert scrubber.value({"out": ["echo s3cr3t-value"]}) == {"out": [f"echo {REDACTED}"]}


def test_free_text_keeps_its_context_around_a_credential() -> None:
    line = Scrubber().text("GET /x with Authorization: Bearer abcdefghijkl123 failed")
    assert line == f"GET /x with Authorization: {REDACTED} failed"


def test_very_short_known_values_are_ignored_to_keep_text_readable() -> None:
    assert Scrubber(["ab"]).text("abc") == "abc"
