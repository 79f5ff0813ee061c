"""Every example pool renders to its golden children, and every child is valid against its real schema.

Built-in kinds are checked by ``kubernetes-validate`` in strict mode (unknown fields are errors); the
ScaledObject against KEDA's own CRD schema. Regenerate the golden files with ``UPDATE_GOLDEN=1`` after an
intended change and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.operator.builders.support import children_of
from tests.operator.conftest import EXAMPLE_FILES
from tests.operator.crdcheck import crd_schema, validate
from tests.support.envtest import find_assets

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _keda_crd() -> Path | None:
    """KEDA's ScaledObject CRD as built by scripts/envtest-assets (from the pinned KEDA Go module)."""
    assets = find_assets(keda=True)
    return None if assets is None else assets / "keda-crds" / "keda.sh_scaledobjects.yaml"


KEDA_CRD = _keda_crd()
AUTOSCALED = [name for name in EXAMPLE_FILES if children_of(name).scaled_object is not None]
KUBERNETES_VERSION = "1.31.0"


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_children_match_the_golden_file(name: str) -> None:
    rendered = yaml.safe_dump_all(children_of(name).present(), sort_keys=False, width=120)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(rendered, encoding="utf-8")
    assert golden.read_text(encoding="utf-8") == rendered, f"{golden} differs (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_builtin_children_pass_strict_kubernetes_schemas(name: str) -> None:
    for child in children_of(name).present():
        if child["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(child, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(KEDA_CRD is None, reason="KEDA CRDs not built: run scripts/envtest-assets")
@pytest.mark.parametrize("name", AUTOSCALED)
def test_scaled_object_passes_the_keda_crd_schema(name: str) -> None:
    assert KEDA_CRD is not None
    scaled_object = children_of(name).scaled_object
    assert scaled_object is not None
    assert validate(crd_schema(KEDA_CRD), scaled_object) == []
