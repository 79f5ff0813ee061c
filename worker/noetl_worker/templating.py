"""Jinja2 templating of tool configs, in the dialect of the reference ``noetl-tools`` renderer.

Rules (see docs/tools.md, "Templating"):

* Only strings containing ``{{`` or ``{%`` are rendered; keys are never rendered; other scalars pass through.
* A string that is exactly one expression (``"{{ x }}"``) yields the expression's value itself (objects stay
  objects), as the NoETL Python renderer does; any other template is rendered to text.
* A rendered string that parses as JSON becomes the typed value (``"42"`` → ``42``), as the reference does.
* Undefined names render as ``""`` (Jinja2's default ``Undefined``, which is also the reference's
  behaviour); attribute access *on* an undefined value is an error.
* ``x.result`` and ``x.data`` on an object without such a key return ``x`` itself (the reference's
  ``.result`` alias and the Python server's ``.data`` alias); a real key always wins.
* Secrets are reachable only as ``keychain.<name>``; the environment is sandboxed (no attribute access to
  dunder members, no unsafe callables).

A template failure raises :class:`~noetl_worker.tools.base.ToolConfigError` naming the key path, e.g.
``Configuration error: http.headers.Authorization: template error: ...``.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import functools
import json
import math
import re
import shlex
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.runtime
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment, safe_range

from noetl_worker.jsontypes import JSONValue
from noetl_worker.tools.base import ToolConfigError

if TYPE_CHECKING:
    from noetl_worker.tools.base import ToolContext

__all__ = [
    "ALIAS_KEYS",
    "has_template",
    "render_string",
    "render_value",
    "tool_template_context",
]

ALIAS_KEYS = ("result", "data")
_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|%\}).)*)\}\}\s*$", re.DOTALL)


def has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


MAX_SEQUENCE_PRODUCT = 1_000_000  # longest string/list a template may build with `*`
MAX_EXPONENT = 10_000  # largest integer exponent a template may raise to with `**`
MAX_RANGE_ITEMS = 1_000_000  # all range() items of one render together: nested loops cannot spin for hours
MAX_RENDERED_CHARS = 16 * 1024 * 1024  # rendering runs on the event loop; its output stays bounded

_range_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("noetl_template_range_budget")


def _budgeted_range(*args: int) -> range:
    """Jinja2's sandboxed ``range`` (one range ≤ 100 000 items), plus a budget over the whole render."""
    numbers = safe_range(*args)
    budget = _range_budget.get(None)
    if budget is not None:
        budget[0] -= len(numbers)
        if budget[0] < 0:
            raise SecurityError(f"range() produced more than {MAX_RANGE_ITEMS} items in one template")
    return numbers


class _NoetlEnvironment(SandboxedEnvironment):
    """Sandboxed Jinja2 with the ``.result``/``.data`` self-alias on objects, and bounded ``*``/``**`` so a
    config cannot make the worker allocate gigabytes (``{{ 'x' * 10**10 }}``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_SEQUENCE_PRODUCT
                ):
                    raise SecurityError(f"the result of * would be longer than {MAX_SEQUENCE_PRODUCT}")
        elif (
            isinstance(right, int)
            and not isinstance(right, bool)
            and abs(right) > MAX_EXPONENT
            and left not in (0, 1, -1)
        ):
            raise SecurityError(f"exponents above {MAX_EXPONENT} are not allowed")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in ALIAS_KEYS and attribute not in obj:
            return obj
        return super().getattr(obj, attribute)


# ---- filters (tools.md §2; custom ones override Jinja2's built-ins of the same name) -------------------


def _f_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return default
    return int(number) if math.isfinite(number) else default


def _f_float(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return default


def _f_default(value: Any, default: Any = "", boolean: bool = False) -> Any:
    # Unlike Jinja2's built-in, null is replaced too (the reference's rule).
    if isinstance(value, jinja2.Undefined) or value is None or (boolean and not value):
        return default
    return value


def _f_tojson(value: Any, indent: int | None = None) -> str:
    # Plain JSON, not Jinja2's HTML-escaped variant: configs are not HTML.
    return json.dumps(_to_json(value), indent=indent, ensure_ascii=False, default=str)


def _f_fromjson(value: Any) -> Any:
    try:
        return json.loads(str(value))
    except ValueError:
        return None


def _f_length(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, Mapping | list | tuple):
        return len(value)
    return 0


def _f_split(value: Any, sep: str | None = None) -> list[str]:
    return str(value).split(sep)


def _f_join(value: Any, sep: str = "") -> str:
    if isinstance(value, str):
        return value
    return sep.join(_text(item) for item in value)


def _f_first(value: Any) -> Any:
    try:
        return next(iter(value))
    except (StopIteration, TypeError):
        return None


def _f_last(value: Any) -> Any:
    try:
        return list(value)[-1]
    except (IndexError, TypeError):
        return None


def _f_b64encode(value: Any) -> str:
    raw = value if isinstance(value, bytes) else _text(value).encode()
    return base64.b64encode(raw).decode("ascii")


def _f_b64decode(value: Any) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError) as exc:
        raise jinja2.TemplateRuntimeError(f"b64decode: invalid base64 input ({exc})") from None


def _f_urlquote(value: Any) -> str:
    # One URL path segment or query value, whatever it holds: "/", "?", "#", ".." cannot change the URL's shape.
    return urllib.parse.quote(_text(value), safe="")


def _f_shell_quote(value: Any) -> str:
    # The one safe way to put a templated value into a shell command: a single shell word, always.
    return shlex.quote(_text(value))


_FILTERS: dict[str, Any] = {
    "int": _f_int,
    "float": _f_float,
    "default": _f_default,
    "d": _f_default,
    "tojson": _f_tojson,
    "fromjson": _f_fromjson,
    "length": _f_length,
    "len": _f_length,
    "upper": lambda v: _text(v).upper(),
    "lower": lambda v: _text(v).lower(),
    "trim": lambda v: _text(v).strip(),
    "replace": lambda v, old, new: _text(v).replace(str(old), str(new)),
    "split": _f_split,
    "join": _f_join,
    "first": _f_first,
    "last": _f_last,
    "b64encode": _f_b64encode,
    "b64decode": _f_b64decode,
    "shell_quote": _f_shell_quote,
    "urlquote": _f_urlquote,
}


def _text(value: Any) -> str:
    """How a value prints inside a template: JSON for containers/booleans, "" for undefined/null."""
    if isinstance(value, jinja2.Undefined) or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | Mapping | list | tuple):
        return json.dumps(_to_json(value), ensure_ascii=False, default=str)
    return str(value)


def _to_json(value: Any) -> JSONValue:
    """A template result as JSON (undefined → null, tuples → lists, other objects → their text)."""
    if isinstance(value, jinja2.Undefined) or value is None:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN; text, never a silent null
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_json(v) for v in value]
    return str(value)


@functools.cache
def _environment() -> _NoetlEnvironment:
    env = _NoetlEnvironment(undefined=jinja2.Undefined, autoescape=False, finalize=_text, keep_trailing_newline=True)
    env.filters.update(_FILTERS)
    env.globals["range"] = _budgeted_range
    return env


@functools.lru_cache(maxsize=1024)
def _template(source: str) -> jinja2.Template:
    return _environment().from_string(source)


@functools.lru_cache(maxsize=1024)
def _expression(source: str) -> Any:
    return _environment().compile_expression(source, undefined_to_none=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _typed(text: str) -> JSONValue:
    """The reference's rule: rendered text that is valid JSON becomes the typed value."""
    stripped = text.strip()
    if not stripped:
        return text
    try:
        value: JSONValue = json.loads(stripped, parse_constant=_reject_constant)
    except ValueError:
        return text
    return value


def _fail(path: str, exc: Exception) -> ToolConfigError:
    where = path or "<value>"
    detail = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
    return ToolConfigError(f"{where}: template error: {type(exc).__name__}: {detail}")


def _bounded_render(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    for part in template.generate(**context):
        size += len(part)
        if size > MAX_RENDERED_CHARS:
            raise SecurityError(f"the rendered text would be longer than {MAX_RENDERED_CHARS} characters")
        parts.append(part)
    return "".join(parts)


def render_string(template: str, context: Mapping[str, Any], *, path: str = "") -> JSONValue:
    """Render one string; the result is typed by the JSON rule. Raises ToolConfigError naming ``path``."""
    if not has_template(template):
        return template
    token = _range_budget.set([MAX_RANGE_ITEMS])
    try:
        whole = _WHOLE_EXPRESSION.match(template)
        if whole is not None:
            # `{{- x -}}`: a `-`/`+` right inside the braces is whitespace control, not part of the expression.
            expr = whole.group("expr")
            expr = expr[1:] if expr[:1] in ("-", "+") else expr
            expr = expr[:-1] if expr[-1:] in ("-", "+") else expr
            value = _expression(expr.strip())(**context)
            if isinstance(value, jinja2.Undefined):
                return ""
            if isinstance(value, str):
                return _typed(value)
            return _to_json(value)
        return _typed(_bounded_render(_template(template), context))
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise _fail(path, exc) from None
    finally:
        _range_budget.reset(token)


def render_value(
    value: JSONValue, context: Mapping[str, Any], *, path: str = "", skip: frozenset[str] = frozenset()
) -> JSONValue:
    """Render every templated string inside ``value`` (recursively).

    ``path`` prefixes error messages (``"http"`` → ``http.headers.X``); keys listed in ``skip`` are left
    untouched at the top level (code bodies such as the python tool's ``code``).
    """
    if isinstance(value, str):
        return render_string(value, context, path=path)
    if isinstance(value, dict):
        return {
            key: item if key in skip else render_value(item, context, path=f"{path}.{key}" if path else key)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [render_value(item, context, path=f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def tool_template_context(context: ToolContext, **extra: Any) -> dict[str, Any]:
    """The names a tool config may reference: the command's render context, the command's identity, and
    ``keychain`` (the command's secrets — the only place secrets are reachable from)."""
    names: dict[str, Any] = dict(context.variables)
    names.update(
        execution_id=context.execution_id,
        step=context.step,
        server_url=context.server_url,
        worker_id=context.worker_id,
        command_id=context.command_id,
        keychain=dict(context.secrets),
    )
    names.update(extra)
    return names
