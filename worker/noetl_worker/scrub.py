"""Secret scrubbing for everything the worker emits or logs.

Three layers, applied together:

1. Sensitive keys, matched by word: a key is split into words (``_``, ``-``, ``.``, ``/``, spaces, digits
   and camelCase boundaries) and is sensitive when what it names — its last word, or last two, after a
   trailing ``data``/``value`` — is a secret (``password``, ``token``, ``secret``,
   ``authorization``, ``credentials``, ``api key``, ``private key``, …) or the whole key run together is
   (``apikey``). ``secret_scanning``, ``token_type`` or ``certificate-authority`` name something else. The
   ``token`` of an object that also has a ``logprob`` is a language model's text token (OpenAI, Anthropic
   logprobs), not a credential. Every
   string under such a key becomes ``[REDACTED]`` (inside lists and objects too); numbers, booleans and
   null are left alone, since they carry no secret text. The seed matched substrings, which redacted
   ordinary fields of real APIs (``authority``, ``tokenizer``, ``max_tokens``, ``is_authorized``,
   ``certified``, a commit's ``author``); ``tests/worker/test_scrub.py`` holds a corpus of GitHub, OpenAI,
   Stripe and Kubernetes response shapes that must pass through intact.
2. Secret-looking strings (PEM private keys, ``Bearer``/``Basic`` credentials, JWTs, well-known vendor token
   prefixes): the whole string becomes ``[REDACTED]``.
3. Known secret values (the keychain allow-list and resolved auth-alias secrets of the command): every
   occurrence inside any string is replaced, so a tool that echoes a password into its output or an error
   message cannot leak it. The seed lacks this layer and does not scrub errors or logs at all.

Speed. The credential shapes are one regular expression each (``_VENDOR_RE``, ``_INLINE_RE``), and those
stay the specification. But an alternation led by ``\\b`` or a look-behind gets no literal-prefix scan from
``re``: every alternative is tried at every position, 50 to 300 ms per MiB. Long strings are therefore scanned
with literal-led *finders* first — one per alternative, each ``re``/``str.find`` skipping through the text at
memory speed — and the specification patterns are tried only where a finder says an alternative can start.
Every position where a pattern can match is a finder hit, so the result is the same, at a few ms per MiB.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator

from noetl_worker.jsontypes import JSONValue

__all__ = ["REDACTED", "Scrubber", "is_sensitive_key", "looks_secret"]

REDACTED = "[REDACTED]"

# A key naming a secret as one of its words...
_SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "pwd", "secret", "secrets", "token", "bearer", "authorization", "auth",
    "credential", "credentials", "passphrase", "pem", "cert", "certificate", "jwt", "keychain", "oauth",
    "apikey", "apisecret", "privatekey", "secretkey", "clientsecret", "connectionstring", "sshkey", "idtoken",
    "accesstoken", "refreshtoken", "authtoken",
})  # fmt: skip
# ...as two neighbouring words...
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("private", "key"), ("connection", "string"), ("encryption", "key"), ("decrypt", "key"),
    ("master", "key"), ("ssh", "key"), ("gcp", "key"), ("azure", "key"), ("signing", "key"),
    ("access", "key"), ("client", "key"), ("secret", "key"), ("account", "key"),
})  # fmt: skip
# Words that only say how a secret is stored (``client-key-data``, ``password_value``).
_STORAGE_WORDS = frozenset({"data", "value", "encoded", "raw"})
# ...or run together as a whole (``apikey``, ``privatekey`` are in _SECRET_WORDS).
_KEY_WORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_VENDOR_PREFIXES = (
    "sk-ant-", "sk-", "AIza", "ya29.", "ghp_", "ghs_", "gho_", "ghu_", "ghr_", "github_pat_",
    "xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-",
)  # fmt: skip
_VENDOR_RE = re.compile(
    r"(?:^|[ \t\r\n\"':=,])(?:" + "|".join(re.escape(p) for p in _VENDOR_PREFIXES) + r")[A-Za-z0-9_-]{12,}"
)
# In free text only the credential itself is cut out, so the rest of a log line stays readable.
_INLINE_RE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----"
    r"|(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
    r"|(?<![A-Za-z0-9_-])(?:" + "|".join(re.escape(p) for p in _VENDOR_PREFIXES) + r")[A-Za-z0-9_-]{12,}",
    re.DOTALL,
)
# Values shorter than this are not worth a substring pass: they would redact ordinary words.
_MIN_KNOWN_SECRET_LENGTH = 4

# Below this length the specification patterns run directly: a finder pass has a fixed cost per string that
# only pays off once the per-character cost of the big alternations dominates.
_FINDER_MIN_LENGTH = 64
_CACHED_KEY_LENGTH = 128


def _vendor_finders() -> tuple[re.Pattern[str], ...]:
    # One pattern per shared two-letter lead ("ghp_|ghs_|…" → "gh(?:p_|s_|…)"): `re` factors the common
    # lead out of the alternation and scans for it as a literal.
    by_lead = itertools.groupby(sorted(_VENDOR_PREFIXES), key=lambda prefix: prefix[:2])
    return tuple(re.compile("|".join(re.escape(p) for p in group)) for _, group in by_lead)


_VENDOR_FINDERS = _vendor_finders()
# Where the other alternatives of _INLINE_RE start: the PEM armour, and the JWT header (`\b` is zero-width).
_INLINE_FINDERS = (re.compile(re.escape("-----BEGIN ")), re.compile("eyJ"), *_VENDOR_FINDERS)
# `(?i:\b(?:bearer|basic)…)` can only start at "b" or "B": `re` also folds a long s and a dotless i into
# "basic", but never anything into its "b".
_CREDENTIAL_WORD_FINDER = re.compile(r"[Bb](?i:earer|asic)")
_CREDENTIAL_WORDS = ("bearer", "basic")


def _starts(finder: re.Pattern[str], text: str) -> Iterator[int]:
    """Every position where ``finder`` matches, overlapping ones included."""
    match = finder.search(text)
    while match is not None:
        yield match.start()
        match = finder.search(text, match.start() + 1)


def _credential_word_starts(text: str) -> Iterator[int]:
    if not text.isascii():
        yield from _starts(_CREDENTIAL_WORD_FINDER, text)
        return
    # Pure ASCII: a lower-cased copy has the same positions and no case-folding surprises, and `str.find`
    # is several times faster than a case-insensitive scan.
    lowered = text.lower()
    for word in _CREDENTIAL_WORDS:
        position = lowered.find(word)
        while position >= 0:
            yield position
            position = lowered.find(word, position + 1)


def _inline_candidates(text: str) -> list[int]:
    """Sorted positions where an alternative of ``_INLINE_RE`` can start (a superset of its match starts)."""
    starts = set(_credential_word_starts(text))
    for finder in _INLINE_FINDERS:
        starts.update(_starts(finder, text))
    return sorted(starts)


def _redact_inline(text: str) -> str:
    """``_INLINE_RE.sub(REDACTED, text)``, trying the pattern only where a finder says it can match."""
    if len(text) < _FINDER_MIN_LENGTH:
        return _INLINE_RE.sub(REDACTED, text)
    pieces: list[str] = []
    end = 0
    for start in _inline_candidates(text):
        if start < end:
            continue  # inside the previous match, which `sub` would have skipped as well
        # `match(text, pos)` sees the characters before `pos`, so `\b` and the look-behind judge as in `sub`.
        match = _INLINE_RE.match(text, start)
        if match is not None:
            pieces += (text[end:start], REDACTED)
            end = match.end()
    if not pieces:
        return text
    pieces.append(text[end:])
    return "".join(pieces)


def _has_vendor_token(value: str) -> bool:
    """``_VENDOR_RE.search(value) is not None``, trying the pattern only just before a vendor prefix."""
    if len(value) < _FINDER_MIN_LENGTH:
        return _VENDOR_RE.search(value) is not None
    for finder in _VENDOR_FINDERS:
        for start in _starts(finder, value):
            # The pattern's lead is `^` or one separator character, so a match begins at most one before.
            if _VENDOR_RE.match(value, max(start - 1, 0)) is not None:
                return True
    return False


def is_sensitive_key(key: str) -> bool:
    """True if ``key`` names a secret as a word (``DB-Password``, ``x-api-key``, ``accessToken``), never
    because a secret word hides inside another one (``authority``, ``tokenizer``, ``is_authorized``)."""
    # Rows of a table repeat the same few keys thousands of times; an odd long key is not worth keeping.
    return _is_sensitive_short_key(key) if len(key) <= _CACHED_KEY_LENGTH else _is_sensitive(key)


def _is_sensitive(key: str) -> bool:
    words = [word.lower() for word in _KEY_WORD_RE.findall(key) if not word.isdigit()]
    while len(words) > 1 and words[-1] in _STORAGE_WORDS:
        words.pop()
    if not words:
        return False
    return words[-1] in _SECRET_WORDS or "".join(words) in _SECRET_WORDS or tuple(words[-2:]) in _SECRET_PAIRS


_is_sensitive_short_key = functools.lru_cache(maxsize=4096)(_is_sensitive)


def looks_secret(value: str) -> bool:
    """True if the string as a whole looks like a credential (seed heuristics)."""
    if len(value) < 8:
        return False
    if value.startswith("-----BEGIN ") and "PRIVATE KEY-----" in value:
        return True
    # Only the head is lower-cased and the JWT split is made only for "eyJ…": a long value is not copied.
    if value[:7].lower().startswith(("bearer ", "basic ")) and len(value.split(maxsplit=1)) >= 2:
        return True
    if value.startswith("eyJ") and value.count(".") == 2:
        header, payload, signature = value.split(".")
        if header and signature and payload.startswith("eyJ"):
            return True
    return _has_vendor_token(value)


class Scrubber:
    """Redacts secrets from JSON values and text. ``known`` are literal secret values to hide anywhere."""

    __slots__ = ("_known", "_known_re")

    def __init__(self, known: Iterable[str] = ()) -> None:
        values = sorted({v for v in known if isinstance(v, str) and len(v) >= _MIN_KNOWN_SECRET_LENGTH}, key=len)
        self._known = tuple(reversed(values))
        self._known_re = re.compile("|".join(re.escape(v) for v in self._known)) if self._known else None

    def with_secrets(self, extra: Iterable[str]) -> Scrubber:
        """A scrubber that also hides ``extra`` (e.g. the secrets resolved for one command)."""
        return Scrubber((*self._known, *extra))

    def text(self, value: str) -> str:
        """Scrub free text (log lines, error messages): known secrets and credential-shaped tokens are cut out."""
        # The substring test is what lets a long text with none of the secrets skip the alternation.
        if self._known_re is not None and any(secret in value for secret in self._known):
            value = self._known_re.sub(REDACTED, value)
        return _redact_inline(value)

    def value(self, value: JSONValue) -> JSONValue:
        """Scrub a JSON value recursively (a new value; the input is not modified)."""
        return self._value(value, {})

    def _value(self, value: JSONValue, done: dict[int, str]) -> JSONValue:
        # `done` maps long strings already scrubbed in this value by identity: the same string object often
        # sits in a result twice (the http tool's `body` and `data`), and every one is alive until we return.
        if isinstance(value, str):
            if len(value) < _FINDER_MIN_LENGTH:
                return REDACTED if looks_secret(value) else self.text(value)
            scrubbed = done.get(id(value))
            if scrubbed is None:
                scrubbed = done[id(value)] = REDACTED if looks_secret(value) else self.text(value)
            return scrubbed
        if isinstance(value, dict):
            text_token = "logprob" in value  # {"token": "The", "logprob": -0.01}: a model's token, not a secret
            return {
                k: _redact_text(v)
                if is_sensitive_key(k) and not (text_token and k == "token")
                else self._value(v, done)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._value(v, done) for v in value]
        return value


def _redact_text(value: JSONValue) -> JSONValue:
    """What a sensitive key holds: every string redacted, however deep; numbers, booleans and null kept."""
    if isinstance(value, str):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_text(v) for v in value]
    return value
