"""YAML manifest files read without a cluster: documents, YAML errors in one line, Secrets checked as the API would.

``render`` reads pools and Secrets from files a person wrote, so anything may be in them: a document that is a
list, ``metadata: [1, 2]``, ``data`` that is not base64. Every such problem is a :class:`ManifestError` or a
problem line naming the file, the document and the field — never an exception from deep inside the code that
trusted the shape. :func:`yaml_problem` is also how the kubeconfig reader reports YAML errors.
"""

from __future__ import annotations

import base64
import binascii
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Document", "ManifestError", "OfflineSecrets", "read_documents", "secret_problems", "yaml_problem"]


class ManifestError(ValueError):
    """A file that cannot be read as YAML manifests; the message names the file and the place."""


@dataclass(frozen=True)
class Document:
    """One non-empty YAML document of a file."""

    source: str
    #: 1-based position in the file, counting empty documents too (as an editor would see them).
    number: int
    content: Any

    def where(self) -> str:
        return f"{self.source}: document {self.number}"


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line: ``line L, column C: problem (context)``."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        context = f" ({error.context})" if error.context else ""
        return f"line {mark.line + 1}, column {mark.column + 1}: {error.problem or 'invalid YAML'}{context}"
    return " ".join(str(error).split())


def read_documents(source: str) -> list[Document]:
    """Every non-empty document of ``source`` (``-``: standard input); a :class:`ManifestError` if unreadable."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        loaded = list(yaml.safe_load_all(text))
    except OSError as error:
        raise ManifestError(f"{source}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ManifestError(f"{source}: not UTF-8 text (byte {error.start})") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{source}: {yaml_problem(error)}") from None
    return [Document(source, index + 1, content) for index, content in enumerate(loaded) if content is not None]


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def secret_problems(doc: dict[str, Any]) -> list[str]:
    """What the API server would refuse in a Secret manifest (only the fields rendering reads)."""
    problems: list[str] = []
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        return [f"metadata: expected a mapping, got {_type(metadata)}"]
    for key in ("name", "namespace"):
        if not isinstance(metadata.get(key, ""), str) or (key == "name" and not metadata.get(key)):
            problems.append(f"metadata.{key}: expected a non-empty string, got {metadata.get(key)!r}")
    for section in ("data", "stringData"):
        values = doc.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            problems.append(f"{section}: expected a mapping, got {_type(values)}")
            continue
        for key, value in values.items():
            if not isinstance(value, str):
                problems.append(f"{section}.{key}: expected a string, got {_type(value)}")
            elif section == "data":
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    problems.append(f"data.{key}: not valid base64")
    return problems


class OfflineSecrets:
    """Secrets given on the command line, looked up like the cluster would (by namespace and name).

    Documents of other kinds are ignored (the pools' own file may be given, Secrets and pools together).
    """

    def __init__(self, documents: list[Document]) -> None:
        self._secrets: dict[tuple[str, str], dict[str, Any]] = {}
        #: ``<file>: document N: <problem>`` for every unusable document.
        self.problems: list[str] = []
        for document in documents:
            doc = document.content
            if not isinstance(doc, dict):
                self.problems.append(f"{document.where()}: expected a manifest (a mapping), got {_type(doc)}")
                continue
            if doc.get("kind") != "Secret":
                continue
            problems = secret_problems(doc)
            if problems:
                metadata = doc.get("metadata")
                name = metadata.get("name") if isinstance(metadata, dict) else None
                label = f"Secret {name}" if isinstance(name, str) and name else "Secret"
                self.problems += [f"{document.where()} ({label}): {problem}" for problem in problems]
                continue
            metadata = doc["metadata"]
            # The API server folds stringData into data; do the same so checksums match the cluster's.
            data = dict(doc.get("data") or {})
            for key, value in (doc.get("stringData") or {}).items():
                data[key] = base64.b64encode(value.encode()).decode()
            self._secrets[(metadata.get("namespace") or "default", metadata["name"])] = {**doc, "data": data}

    def __bool__(self) -> bool:
        return bool(self._secrets)

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._secrets.get((namespace, name))
