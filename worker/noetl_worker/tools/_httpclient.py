"""The HTTP client the ``http`` and ``mcp`` tools use to reach third parties.

Deliberately not ``ToolContext.http``: that is the worker's control-plane client, whose default headers
carry the control plane's bearer token, and no playbook URL may ever receive it. This client has no
default headers, no base URL, and a cookie jar that refuses every cookie, so nothing one command receives
(a session cookie, say) is sent by another command of another execution. It pools connections per process
and honours the usual proxy and CA environment variables of the deployment.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

__all__ = ["third_party_client"]


def third_party_client(*, verify: bool = True) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),  # no domain may set a cookie
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        verify=verify,
    )
