"""``api_url``: clients may configure the server with or without ``/api`` and trailing slashes."""

from __future__ import annotations

import pytest
from noetl_wire.urls import api_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("http://h:8082", "events", "http://h:8082/api/events"),
        ("http://h:8082/", "/events", "http://h:8082/api/events"),
        ("http://h:8082/api", "events/batch", "http://h:8082/api/events/batch"),
        ("http://h:8082/api/", "/api/events", "http://h:8082/api/events"),
        ("http://h:8082/noetl/api//", "vars/1", "http://h:8082/noetl/api/vars/1"),
        ("http://h:8082", "", "http://h:8082/api"),
        ("http://h:8082", "apis", "http://h:8082/api/apis"),
    ],
)
def test_api_url(base: str, path: str, expected: str) -> None:
    assert api_url(base, path) == expected
