"""``noetl-operator render`` on malformed input: every problem is a line naming the file, never a traceback.

The examples are mutated at random places into wrong shapes (a list where a mapping belongs, a number for a
name, a Secret file that is a list...) and arbitrary text is fed as YAML; whatever comes in, render answers
0 or 2 and every line it writes to stderr names the file it is about.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from noetl_operator.cli import main

from tests.operator.conftest import EXAMPLES, example_documents

pytestmark = pytest.mark.unit

EXAMPLE = "autoscaled-keychain.yaml"
DOCUMENTS = example_documents(EXAMPLE)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document (mapping keys and list positions), the document itself included."""
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


PLACES = [(index, path) for index, doc in enumerate(DOCUMENTS) for path in _paths(doc)]


def _replaced(documents: list[Any], index: int, path: tuple[Any, ...], value: Any) -> list[Any]:
    changed = copy.deepcopy(documents)
    if not path:
        changed[index] = value
        return changed
    node = changed[index]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return changed


def _render(pools: str, secrets: str | None) -> tuple[int, str, str]:
    """Run render in-process on two files' text; (exit status, stdout, stderr) and the file names."""
    with tempfile.TemporaryDirectory() as folder:
        pool_file = Path(folder) / "pools.yaml"
        pool_file.write_text(pools, encoding="utf-8")
        argv = ["render", "-f", str(pool_file)]
        if secrets is not None:
            secret_file = Path(folder) / "secrets.yaml"
            secret_file.write_text(secrets, encoding="utf-8")
            argv += ["-s", str(secret_file)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
        # Names relative to the folder, so the caller can check which file each line is about.
        return status, out.getvalue(), err.getvalue().replace(f"{folder}/", "")


def _assert_every_line_names_a_file(status: int, stderr: str) -> None:
    assert status in (0, 2)
    assert "Traceback" not in stderr
    for line in stderr.splitlines():
        assert line.startswith(("pools.yaml: ", "secrets.yaml: ", "noetl-operator render: ")), line
    if status == 2:
        assert stderr, "a failure says why"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PLACES), values, st.booleans())
def test_any_value_anywhere_in_a_pool_or_its_secrets_is_a_named_problem(
    place: tuple[int, tuple[Any, ...]], value: Any, same_file: bool
) -> None:
    documents = _replaced(DOCUMENTS, *place, value)
    text = yaml.safe_dump_all(documents)
    # Secrets given in their own file, or the whole file given as both (as the README shows).
    status, _, stderr = _render(text, text if same_file else yaml.safe_dump_all(documents[:2]))
    _assert_every_line_names_a_file(status, stderr)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.text(max_size=100))
def test_arbitrary_text_as_pools_or_secrets_is_a_named_problem(pools: str, secrets: str) -> None:
    status, _, stderr = _render(pools, secrets)
    _assert_every_line_names_a_file(status, stderr)


@pytest.mark.parametrize(
    ("pools", "secrets", "expected"),
    [
        (
            "apiVersion: noetl.io/v1alpha1\nkind: NoetlWorkerPool\nmetadata: [1, 2]\nspec: {image: {tag: '1'}}\n",
            None,
            "pools.yaml: document 1 (?): metadata: Input should be a valid dictionary",
        ),
        (None, "- kind: Secret\n- 2\n", "secrets.yaml: document 1: expected a manifest (a mapping), got list"),
        (None, "kind: Secret\nmetadata: [1]\n", "secrets.yaml: document 1 (Secret): metadata: expected a mapping"),
        (
            None,
            "kind: Secret\nmetadata: {name: s}\ndata: {k: '%%'}\nstringData: {n: 5}\n",
            "secrets.yaml: document 1 (Secret s): data.k: not valid base64\n"
            "secrets.yaml: document 1 (Secret s): stringData.n: expected a string, got int",
        ),
        ("kind: ConfigMap\n---\n- 1\n", None, "pools.yaml: document 2: expected a manifest (a mapping), got list"),
        ("kind: [unclosed\n", None, "noetl-operator render: pools.yaml: line 2, column 1: expected ',' or ']'"),
        ("\tkind: x\n", None, "noetl-operator render: pools.yaml: line 1, column 1: found character '\\t'"),
    ],
)
def test_structurally_wrong_documents_are_one_line_each(pools: str | None, secrets: str | None, expected: str) -> None:
    pool_text = pools if pools is not None else (EXAMPLES / "minimal.yaml").read_text(encoding="utf-8")
    status, _, stderr = _render(pool_text, secrets)
    assert status == 2
    assert expected in stderr, stderr
    assert "Traceback" not in stderr


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "pools.yaml"
    binary.write_bytes(b"\xff\xfe\x00k")
    assert main(["render", "-f", str(binary)]) == 2
    assert capsys.readouterr().err == f"noetl-operator render: {binary}: not UTF-8 text (byte 0)\n"
