"""Shared pydantic configuration for wire models.

Input models tolerate unknown fields (the server adds fields between releases); models whose extra
fields carry meaning (command ``context``/``meta``) keep them so they round-trip.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["OpenWireModel", "WireModel"]


class WireModel(BaseModel):
    """A wire body: unknown fields are ignored, aliases are accepted and used when serialising."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)


class OpenWireModel(BaseModel):
    """A wire body whose unknown fields are kept and serialised back (e.g. command ``meta``)."""

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)
