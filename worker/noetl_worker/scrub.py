"""Secret scrubbing for everything the worker emits or logs.

Three layers, applied together:

1. Sensitive keys (the seed's token list, substring match on the lower-cased key with ``-`` → ``_``): the
   whole value under such a key becomes ``[REDACTED]``.
2. Secret-looking strings (PEM private keys, ``Bearer``/``Basic`` credentials, JWTs, well-known vendor token
   prefixes): the whole string becomes ``[REDACTED]``.
3. Known secret values (the keychain allow-list and resolved auth-alias secrets of the command): every
   occurrence inside any string is replaced, so a tool that echoes a password into its output or an error
   message cannot leak it. The seed lacks this layer and does not scrub errors or logs at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from noetl_worker.jsontypes import JSONValue

__all__ = ["REDACTED", "Scrubber", "is_sensitive_key", "looks_secret"]

REDACTED = "[REDACTED]"

_SENSITIVE_TOKENS = (
    "password", "passwd", "pwd", "secret", "token", "bearer", "api_key", "apikey", "access_token",
    "refresh_token", "auth_token", "authorization", "auth", "credential", "credentials", "private_key",
    "privatekey", "secret_key", "secretkey", "client_secret", "clientsecret", "connection_string",
    "connectionstring", "db_password", "database_password", "aws_secret", "gcp_key", "azure_key", "ssh_key",
    "sshkey", "passphrase", "pem", "cert", "certificate", "oauth_token", "id_token", "encryption_key",
    "decrypt_key", "master_key", "snowflake_password", "snowflake_token", "private_key_passphrase", "keychain",
    "api_secret", "apisecret", "auth0_token", "auth0_id_token", "auth0_refresh_token", "idtoken", "oauth", "jwt",
)  # fmt: skip
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


def is_sensitive_key(key: str) -> bool:
    """True if ``key`` names a secret (seed semantics: equality or substring of any token)."""
    normalised = key.lower().replace("-", "_")
    return any(token in normalised for token in _SENSITIVE_TOKENS)


def looks_secret(value: str) -> bool:
    """True if the string as a whole looks like a credential (seed heuristics)."""
    if len(value) < 8:
        return False
    if value.startswith("-----BEGIN ") and "PRIVATE KEY-----" in value:
        return True
    lowered = value.lower()
    if (lowered.startswith(("bearer ", "basic "))) and len(value.split()) >= 2:
        return True
    parts = value.split(".")
    if value.startswith("eyJ") and len(parts) == 3 and all(parts) and parts[1].startswith("eyJ"):
        return True
    return _VENDOR_RE.search(value) is not None


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
        if self._known_re is not None:
            value = self._known_re.sub(REDACTED, value)
        return _INLINE_RE.sub(REDACTED, value)

    def value(self, value: JSONValue) -> JSONValue:
        """Scrub a JSON value recursively (a new value; the input is not modified)."""
        if isinstance(value, str):
            return REDACTED if looks_secret(value) else self.text(value)
        if isinstance(value, dict):
            return {k: REDACTED if is_sensitive_key(k) else self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value
