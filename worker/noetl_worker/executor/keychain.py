"""The keychain allow-list: environment variables lifted into every command's secrets.

``NOETL_KEYCHAIN_ENV_VARS`` names variables (comma-separated); each one that is set and non-empty becomes
the secret ``<NAME> = <value>``. Read once at start-up; values are never logged, only the names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["load_keychain"]


def load_keychain(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``{name: value}`` for every listed name that is set to a non-empty value (blank names skipped)."""
    secrets: dict[str, str] = {}
    for raw in names:
        name = raw.strip()
        value = environ.get(name) if name else None
        if value:
            secrets[name] = value
    return secrets
