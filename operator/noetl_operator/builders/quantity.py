"""Kubernetes resource quantities to bytes, for sizing the worker's shared-memory budget."""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["quantity_to_bytes"]

_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>[kMGTPE]i?|)$")


def quantity_to_bytes(quantity: str) -> int:
    """Convert a memory quantity such as ``320Mi`` or ``1G`` to bytes (rounded down)."""
    match = _QUANTITY.match(quantity)
    if match is None or match["suffix"] not in _SUFFIXES:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(Decimal(match["number"]) * _SUFFIXES[match["suffix"]])
