"""``--worker-cmd`` parsing and the settings model's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.settings import WorkerBenchSettings, default_worker_command, parse_worker_command

pytestmark = pytest.mark.unit


def test_a_labelled_worker_command_is_split_like_a_shell_would() -> None:
    command = parse_worker_command("rust=/opt/noetl/bin/noetl-worker --flag 'two words'")
    assert command.label == "rust"
    assert command.argv == ("/opt/noetl/bin/noetl-worker", "--flag", "two words")


def test_an_unlabelled_worker_command_is_named_after_its_program() -> None:
    assert parse_worker_command("/usr/local/bin/noetl-worker run").label == "noetl-worker"


def test_an_equals_sign_inside_an_argument_is_not_taken_for_a_label() -> None:
    command = parse_worker_command("/bin/env A=1 noetl-worker")
    assert command.label == "env"
    assert command.argv == ("/bin/env", "A=1", "noetl-worker")


@pytest.mark.parametrize(("text", "message"), [("", "empty command"), ("x='unclosed", "No closing quotation")])
def test_a_worker_command_that_cannot_run_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_worker_command(text)


def test_worker_labels_must_be_unique_and_bareloop_is_reserved(tmp_path: Path) -> None:
    ours = default_worker_command()
    with pytest.raises(ValidationError, match="repeated: worker"):
        WorkerBenchSettings(out_dir=tmp_path, workers=(ours, ours))
    with pytest.raises(ValidationError, match="reserved"):
        WorkerBenchSettings(out_dir=tmp_path, workers=(parse_worker_command("bareloop=/bin/true"),))
