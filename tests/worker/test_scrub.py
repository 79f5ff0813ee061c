"""The scrubber: sensitive keys, secret-shaped strings, and known secret values anywhere in text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from noetl_worker.scrub import _INLINE_RE, _VENDOR_RE, REDACTED, Scrubber, is_sensitive_key, looks_secret

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "key",
    [
        "password", "DB-Password", "api_key", "Authorization", "client_secret", "x-api-key", "accessToken",
        "APIKey", "apikey", "aws_secret_access_key", "X-Auth-Token", "auth0_token", "privateKeyPassphrase",
        "refresh_token", "id_token", "connection_string", "ssh-key", "tls.cert", "kubeconfig_credentials",
        "client-key-data", "password_value", "db_password", "proxy-authorization",
    ],
)  # fmt: skip
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "name", "rows", "count", "status", "authority", "tokenizer", "max_tokens", "is_authorized", "certified",
        "author", "authored_date", "prompt_tokens", "completion_tokens", "secretary", "passwordless_login_url",
        "keyboard", "monkey", "certainty", "authentic", "secret_scanning", "token_type", "certificate-authority",
    ],
)  # fmt: skip
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
    data = {"rows": [{"user": "a", "password": "p"}], "n": 3, "ok": True,
            "cfg": {"token": {"nested": 1, "value": "abc", "list": ["x", 2]}}}  # fmt: skip
    scrubbed = Scrubber().value(data)
    assert scrubbed == {"rows": [{"user": "a", "password": REDACTED}], "n": 3, "ok": True,
                        "cfg": {"token": {"nested": 1, "value": REDACTED, "list": [REDACTED, 2]}}}  # fmt: skip
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


# Long strings take the fast path: literal finders say where the credential patterns can start, and the
# patterns are tried only there. These pin that path to the patterns themselves (the specification), on
# the edge cases where a finder could plausibly miss a start: look-behinds, `\b`, overlaps, case folding.

_PAD = "\nplain words, nothing to see;" * 12 + "\n"  # longer than the fast path's threshold on its own


@pytest.mark.parametrize(
    ("secret", "scrubbed"),
    [
        ("token ghp_abcdefghijklmnop end", f"token {REDACTED} end"),
        ("xghp_abcdefghijklmnop", "xghp_abcdefghijklmnop"),  # glued to a word: the look-behind refuses it
        ("-sk-ant-abcdefghijklmnop", "-sk-ant-abcdefghijklmnop"),  # "-" is a token character too
        ("(sk-ant-abcdefghijklmnop)", f"({REDACTED})"),
        ("Authorization: BeArEr abcdefgh.ijkl", f"Authorization: {REDACTED}"),
        # `re` matches "basic" case-insensitively with a long s and a dotless i in it
        ("Authorization: ba\u017f\u0131c dXNlcjpwYXNz", f"Authorization: {REDACTED}"),
        ("\u0130 basic dXNlcjpwYXNz", f"\u0130 {REDACTED}"),  # a capital whose lower case is two characters
        ("xbearer abcdefghijkl", "xbearer abcdefghijkl"),  # no word boundary before the keyword
        ("xeyJa-eyJb.eyJc.d", f"xeyJa-{REDACTED}"),  # a JWT starting inside a rejected candidate
        ("a.eyJhbGc.eyJzdWI.sig b", f"a.{REDACTED} b"),
        ("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY----- after", f"{REDACTED} after"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",) * 2,
    ],
)
def test_long_text_is_scrubbed_exactly_like_short_text(secret: str, scrubbed: str) -> None:
    assert Scrubber().text(secret) == scrubbed
    assert Scrubber().text(_PAD + secret + _PAD) == _PAD + scrubbed + _PAD
    assert Scrubber().text(secret + _PAD) == scrubbed + _PAD
    assert Scrubber().text(_PAD + secret) == _PAD + scrubbed


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("ghp_abcdefghijklmnop" + _PAD, True),  # at the very start
        (_PAD + "\tghp_abcdefghijklmnop", True),
        (_PAD + "='AIzaabcdefghijklmnop'", True),
        (_PAD + "xghp_abcdefghijklmnop", False),
        (_PAD + "-ghp_abcdefghijklmnop", False),  # "-" is not one of the separators
        (_PAD + " ghp_abcdefghijk", False),  # one character short
        (_PAD + " task-list sk-short", False),
    ],
)
def test_long_values_look_secret_exactly_like_short_ones(value: str, secret: bool) -> None:
    assert looks_secret(value) is secret
    assert (Scrubber().value(value) == REDACTED) is secret


def test_a_long_string_that_appears_twice_is_scrubbed_in_both_places() -> None:
    text = _PAD + "Authorization: Bearer abcdefghijkl" + _PAD
    data = {"body": text, "data": text, "rows": [text, "ghp_abcdefghijklmnop" + _PAD]}  # the same object, thrice
    expected = _PAD + f"Authorization: {REDACTED}" + _PAD
    assert Scrubber().value(data) == {"body": expected, "data": expected, "rows": [expected, REDACTED]}


def test_known_secrets_are_cut_out_of_long_text_too() -> None:
    scrubber = Scrubber(["s3cr3t-value", "s3cr3t"])
    assert scrubber.text(_PAD + "s3cr3t-value and s3cr3t" + _PAD) == f"{_PAD}{REDACTED} and {REDACTED}{_PAD}"
    assert scrubber.text(_PAD * 3) == _PAD * 3


def test_non_string_values_under_a_sensitive_key_are_kept() -> None:
    assert Scrubber().value({"auth": True, "token": None, "password_rotations": 3, "secret": 0.5}) == {
        "auth": True, "token": None, "password_rotations": 3, "secret": 0.5,
    }  # fmt: skip


def test_long_keys_are_judged_like_short_ones() -> None:
    assert is_sensitive_key("x" * 500 + "-Password")
    assert not is_sensitive_key("x" * 500)


# The pieces credentials are made of, whole credentials, and the characters around them that decide whether
# they count. Pure-ASCII texts and texts with case-folding oddities take different finders, so both are drawn.
_ASCII_FRAGMENTS = (
    "sk-ant-", "sk-", "AIza", "ya29.", "ghp_", "gho_", "github_pat_", "xoxb-", "eyJ", "eyJhbGciOi", ".eyJzdWIi",
    ".", "-", "_", "=", "abcdefgh", "XYZ012345678", " ", "\t", "\n", "'", '"', ":", ",", "(", "Bearer ", "basic",
    "BASIC\t", "-----BEGIN ", "RSA PRIVATE KEY-----", "-----END ", "PRIVATE KEY-----",
    "bearer dXNlcjpwYXNz", "eyJhbGciOi.eyJzdWIi.c2ln", "ghp_abcdefghijklmnop", "a long stretch of ordinary words ",
)  # fmt: skip
_OTHER_FRAGMENTS = ("ba\u017f\u0131c ", "\u0130", "\u00e9", "\u00a0")
_TEXTS = st.one_of(
    st.lists(st.sampled_from(_ASCII_FRAGMENTS), min_size=40, max_size=160),
    st.lists(st.sampled_from(_ASCII_FRAGMENTS + _OTHER_FRAGMENTS) | st.text(max_size=3), min_size=40, max_size=160),
).map("".join)


def _reference_looks_secret(value: str) -> bool:
    """The heuristics as first written: whole-string copies and one search of the vendor pattern."""
    if len(value) < 8:
        return False
    if value.startswith("-----BEGIN ") and "PRIVATE KEY-----" in value:
        return True
    if value.lower().startswith(("bearer ", "basic ")) and len(value.split()) >= 2:
        return True
    parts = value.split(".")
    if value.startswith("eyJ") and len(parts) == 3 and all(parts) and parts[1].startswith("eyJ"):
        return True
    return _VENDOR_RE.search(value) is not None


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_the_fast_path_agrees_with_the_credential_patterns(text: str) -> None:
    assert Scrubber().text(text) == _INLINE_RE.sub(REDACTED, text)
    assert looks_secret(text) is _reference_looks_secret(text)
