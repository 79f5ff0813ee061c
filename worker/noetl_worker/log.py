"""Structured logging: one JSON object per line, every line scrubbed of secrets.

Command-scoped lines carry ``execution_id``, ``command_id`` and ``step`` (use :func:`command_logger`);
their scrubber also knows the secrets resolved for that command, so an error text quoting a password is
redacted before it reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

from noetl_worker.scrub import Scrubber

__all__ = ["CommandLogger", "JsonFormatter", "TextFormatter", "command_logger", "configure_logging"]

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is emitted as a field.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "scrubber"}


class _ScrubbingFormatter(logging.Formatter):
    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def _parts(self, record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
        scrubber: Scrubber = getattr(record, "scrubber", None) or self.scrubber
        message = scrubber.text(record.getMessage())
        fields = {k: v for k, v in vars(record).items() if k not in _RESERVED}
        for key, value in fields.items():
            if isinstance(value, str):
                fields[key] = scrubber.text(value)
            elif isinstance(value, dict | list):
                fields[key] = scrubber.value(value)
        if record.exc_info and record.exc_info[1] is not None:
            fields["error"] = scrubber.text(f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
            fields["traceback"] = scrubber.text(self.formatException(record.exc_info))
        return message, fields


class JsonFormatter(_ScrubbingFormatter):
    """``{"ts", "level", "logger", "msg", ...fields}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields = self._parts(record)
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": message,
            **fields,
        }
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(_ScrubbingFormatter):
    """Human-readable lines for terminals (``WORKER_LOG_FORMAT=text``)."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields = self._parts(record)
        tail = " ".join(f"{k}={v}" for k, v in fields.items() if k != "traceback")
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {record.name}: {message}" + (f" [{tail}]" if tail else "")
        return line + ("\n" + fields["traceback"] if "traceback" in fields else "")


def configure_logging(level: str = "INFO", fmt: str = "json", scrubber: Scrubber | None = None) -> None:
    """Route all logging to stderr through one scrubbing formatter (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter_cls = JsonFormatter if fmt == "json" else TextFormatter
    handler.setFormatter(formatter_cls(scrubber or Scrubber()))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Per-request chatter from the HTTP and NATS libraries is noise at INFO.
    for noisy in ("httpx", "httpcore", "nats"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class CommandLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger bound to one command: adds its ids to every line and scrubs with the command's secrets."""

    def __init__(self, logger: logging.Logger, fields: Mapping[str, object], scrubber: Scrubber) -> None:
        super().__init__(logger, dict(fields))
        self.scrubber = scrubber

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        extra["scrubber"] = self.scrubber
        kwargs["extra"] = extra
        return msg, kwargs


def command_logger(
    logger: logging.Logger, *, execution_id: int, command_id: int | str, step: str, scrubber: Scrubber
) -> CommandLogger:
    return CommandLogger(logger, {"execution_id": execution_id, "command_id": command_id, "step": step}, scrubber)
