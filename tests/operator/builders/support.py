"""Build an example pool's children the way the reconciler does (with a UID and its example Secrets)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from noetl_operator.builders import Children, build_children
from noetl_operator.secretrefs import resolve_secrets
from noetl_operator.spec import NoetlWorkerPool, parse_pool

from tests.operator.conftest import example_pool, example_secrets

FIXED_UID = "0b7e5d1c-6a53-4f7e-9d2a-6f1c2b3a4d5e"


class DictSecrets:
    """Secrets held in memory, keyed like the API (namespace, name), with stringData folded into data."""

    def __init__(self, secrets: list[dict[str, Any]]) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        for doc in secrets:
            data = dict(doc.get("data") or {})
            for key, value in (doc.get("stringData") or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            meta = doc["metadata"]
            self.secrets[(meta.get("namespace", "default"), meta["name"])] = {"data": data}

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get((namespace, name))


def load(name: str, **spec_changes: Any) -> NoetlWorkerPool:
    raw = example_pool(name)
    raw["metadata"]["uid"] = FIXED_UID
    raw["spec"].update(spec_changes)
    return parse_pool(raw)


def children_of(name: str, **spec_changes: Any) -> Children:
    pool = load(name, **spec_changes)
    resolution = asyncio.run(resolve_secrets(pool, DictSecrets(example_secrets(name)), connect_timeout=1.0))
    return build_children(pool, resolution.resolved)


def container(children: Children) -> dict[str, Any]:
    containers: list[dict[str, Any]] = children.deployment["spec"]["template"]["spec"]["containers"]
    return containers[0]


def env_of(children: Children) -> dict[str, Any]:
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container(children)["env"]}
