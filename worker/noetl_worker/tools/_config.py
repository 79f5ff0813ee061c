"""Typed, error-naming access to one tool's config.

Every accessor raises :class:`ToolConfigError` with the ``<kind>.<key>`` path, so a malformed config always
produces ``Configuration error: http.timeout_seconds: expected a number, got "soon"`` and never a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, overload

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.templating import render_value, tool_template_context
from noetl_worker.tools.base import ToolConfigError, ToolContext

__all__ = ["ConfigReader", "describe", "render_config"]

_MISSING: Any = object()
_T = TypeVar("_T")
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def describe(value: object) -> str:
    """A short, secret-free description of a bad value for error messages (type, not content)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def render_config(
    kind: str, config: Mapping[str, JSONValue], context: ToolContext, *, raw: Iterable[str] = (), **extra: Any
) -> ConfigReader:
    """Render ``config`` against the command's template context (keys in ``raw`` are left as written)."""
    rendered = render_value(dict(config), tool_template_context(context, **extra), path=kind, skip=frozenset(raw))
    assert isinstance(rendered, dict)
    return ConfigReader(kind, rendered)


class ConfigReader:
    """Read typed values out of a (rendered) tool config; errors name ``<kind>.<key>``."""

    def __init__(self, kind: str, config: Mapping[str, JSONValue], prefix: str = "") -> None:
        self.kind = kind
        self.data: JSONObject = dict(config)
        self._prefix = prefix

    def path(self, key: str) -> str:
        return f"{self.kind}.{self._prefix}{key}"

    def error(self, key: str, message: str) -> ToolConfigError:
        return ToolConfigError(f"{self.path(key)}: {message}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str, default: JSONValue = None) -> JSONValue:
        value = self.data.get(key)
        return default if value is None else value

    def first_key(self, *keys: str) -> str | None:
        """The first of ``keys`` that is present and not null/empty (for aliases like ``query``/``command``)."""
        for key in keys:
            value = self.data.get(key)
            if value is not None and value != "":
                return key
        return None

    @overload
    def text(self, key: str, *, allow_empty: bool = False) -> str: ...
    @overload
    def text(self, key: str, default: _T, *, allow_empty: bool = False) -> str | _T: ...
    def text(self, key: str, default: Any = _MISSING, *, allow_empty: bool = False) -> Any:
        value = self._get(key, default)
        if value is _MISSING or value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"expected a string, got {describe(value)}")
        text = value if isinstance(value, str) else json.dumps(value)
        if not text and not allow_empty:
            raise self.error(key, "must not be empty")
        return text

    @overload
    def number(self, key: str, *, minimum: float | None = None) -> float: ...
    @overload
    def number(self, key: str, default: _T, *, minimum: float | None = None) -> float | _T: ...
    def number(self, key: str, default: Any = _MISSING, *, minimum: float | None = None) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        number: float
        if isinstance(value, bool):
            raise self.error(key, "expected a number, got a boolean")
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise self.error(key, f"expected a number, got {value[:40]!r}") from None
        else:
            raise self.error(key, f"expected a number, got {describe(value)}")
        if not math.isfinite(number):
            raise self.error(key, "expected a finite number")
        if minimum is not None and number < minimum:
            raise self.error(key, f"must be >= {minimum:g}")
        return number

    @overload
    def integer(self, key: str, *, minimum: int | None = None) -> int: ...
    @overload
    def integer(self, key: str, default: _T, *, minimum: int | None = None) -> int | _T: ...
    def integer(self, key: str, default: Any = _MISSING, *, minimum: int | None = None) -> Any:
        value = self.data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            if minimum is not None and value < minimum:
                raise self.error(key, f"must be >= {minimum}")
            return value  # exact, even beyond 2**53
        number = self.number(key, default, minimum=minimum)
        if number is default:
            return number
        if number != int(number):
            raise self.error(key, "expected an integer")
        return int(number)

    @overload
    def boolean(self, key: str) -> bool: ...
    @overload
    def boolean(self, key: str, default: _T) -> bool | _T: ...
    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
        raise self.error(key, f"expected a boolean, got {describe(value)}")

    @overload
    def mapping(self, key: str) -> JSONObject: ...
    @overload
    def mapping(self, key: str, default: _T) -> JSONObject | _T: ...
    def mapping(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, dict):
            raise self.error(key, f"expected an object, got {describe(value)}")
        return value

    @overload
    def array(self, key: str) -> list[JSONValue]: ...
    @overload
    def array(self, key: str, default: _T) -> list[JSONValue] | _T: ...
    def array(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {describe(value)}")
        return value

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key)
        if value is None:
            if default is _MISSING:
                raise self.error(key, "required")
            return default
        return value

    def str_map(self, key: str, *, drop_null: bool = True) -> dict[str, str]:
        """An object whose values become strings (numbers/booleans as JSON text, nested values as JSON).

        This is the reference's coercion for ``headers``/``params``/``form`` (a rendered ``"42"`` arrives as
        the number 42 and must still be sent as text); null values are dropped.
        """
        value = self.mapping(key, {})
        out: dict[str, str] = {}
        for name, item in value.items():
            if item is None:
                if drop_null:
                    continue
                raise self.error(f"{key}.{name}", "must not be null")
            out[name] = item if isinstance(item, str) else json.dumps(item)
        return out

    def sub(self, key: str) -> ConfigReader:
        """A reader over a nested object (error paths become ``<kind>.<key>.<inner>``)."""
        return ConfigReader(self.kind, self.mapping(key), prefix=f"{self._prefix}{key}.")
