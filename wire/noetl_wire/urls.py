"""URL building for control-plane calls, the way NoETL clients do it."""

from __future__ import annotations

__all__ = ["api_url"]


def api_url(base: str, path: str) -> str:
    """``api_url("http://h:8082/api/", "events")`` → ``http://h:8082/api/events``.

    Trailing slashes and one trailing ``/api`` are stripped from ``base`` so callers may configure the
    server URL with or without the prefix; leading slashes and an ``api/`` prefix on ``path`` are tolerated.
    """
    root = base.rstrip("/")
    if root.endswith("/api"):
        root = root[: -len("/api")].rstrip("/")
    tail = path.lstrip("/")
    if tail == "api" or tail.startswith("api/"):
        tail = tail[len("api") :].lstrip("/")
    return f"{root}/api/{tail}" if tail else f"{root}/api"
