"""Structured logs: one JSON object per line, command ids as fields, secrets scrubbed."""

from __future__ import annotations

import json
import logging

import pytest
from noetl_worker.log import JsonFormatter, TextFormatter, command_logger
from noetl_worker.scrub import Scrubber

pytestmark = pytest.mark.unit


class Capture(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logger() -> logging.Logger:
    log = logging.getLogger("noetl_worker.test_log")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    return log


def test_command_lines_carry_ids_and_are_scrubbed_with_the_command_secrets(logger: logging.Logger) -> None:
    capture = Capture(JsonFormatter(Scrubber(["keychain-value"])))
    logger.addHandler(capture)
    clog = command_logger(logger, execution_id=1, command_id=2, step="s", scrubber=Scrubber(["alias-secret"]))
    clog.warning("failed with alias-secret", extra={"detail": {"password": "x"}})
    logger.removeHandler(capture)
    record = json.loads(capture.lines[0])
    assert record["execution_id"] == 1
    assert record["command_id"] == 2
    assert record["step"] == "s"
    assert record["level"] == "WARNING"
    assert record["msg"] == "failed with [REDACTED]"
    assert record["detail"] == {"password": "[REDACTED]"}


def test_exceptions_become_fields_not_raw_tracebacks_on_stderr(logger: logging.Logger) -> None:
    capture = Capture(JsonFormatter(Scrubber(["s3cret-value"])))
    logger.addHandler(capture)
    try:
        raise ValueError("bad s3cret-value")
    except ValueError:
        logger.exception("boom")
    logger.removeHandler(capture)
    record = json.loads(capture.lines[0])
    assert record["error"] == "ValueError: bad [REDACTED]"
    assert "s3cret-value" not in capture.lines[0]


def test_text_format_for_terminals(logger: logging.Logger) -> None:
    capture = Capture(TextFormatter(Scrubber()))
    logger.addHandler(capture)
    logger.info("hello", extra={"step": "s"})
    logger.removeHandler(capture)
    assert capture.lines[0].endswith("INFO    noetl_worker.test_log: hello [step=s]")
