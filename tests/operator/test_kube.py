"""The client layer: the API server's own error messages, ownership checks, discovery (credentials: test_kubeconfig)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from noetl_operator.kube import KubeApiError, KubeClient, KubeConnection

from tests.operator.kmockapi import ApplyingEmulator, declare_cluster


@pytest.mark.unit
def test_plain_http_needs_no_tls_context() -> None:
    assert KubeConnection(server="http://127.0.0.1:1").ssl_context() is True


@pytest.fixture
async def kube(kmock: ApplyingEmulator) -> AsyncIterator[KubeClient]:
    declare_cluster(kmock, keda=False)
    client = KubeClient(KubeConnection(server=str(kmock.url)))
    yield client
    await client.close()


@pytest.mark.integration
@pytest.mark.kmock(cls=ApplyingEmulator)
async def test_missing_objects_are_none_and_errors_carry_the_servers_message(
    kmock: ApplyingEmulator, kube: KubeClient
) -> None:
    assert await kube.get_secret("ns", "absent") is None
    assert await kube.get("apps/v1", "Deployment", "ns", "absent") is None
    assert await kube.delete_owned("apps/v1", "Deployment", "ns", "absent", "uid") is False
    assert await kube.serves("keda.sh", "v1alpha1", "scaledobjects") is False
    assert await kube.serves("apps", "v1", "deployments") is True
    kmock["get", "/api/v1/namespaces/ns/secrets/locked"] << 403 << {"message": 'secrets "locked" is forbidden'}
    with pytest.raises(KubeApiError, match=r'GET /api/v1/namespaces/ns/secrets/locked: HTTP 403: secrets "locked"'):
        await kube.get_secret("ns", "locked")


@pytest.mark.integration
@pytest.mark.kmock(cls=ApplyingEmulator)
async def test_children_of_others_are_never_deleted(kmock: ApplyingEmulator, kube: KubeClient) -> None:
    kmock.objects["apps/v1/deployments", "ns", "theirs"] = {
        "metadata": {"name": "theirs", "ownerReferences": [{"uid": "someone-else", "controller": True}]}
    }
    assert await kube.delete_owned("apps/v1", "Deployment", "ns", "theirs", "our-uid") is False
    assert not kmock.objects["apps/v1/deployments", "ns", "theirs"].deleted
    assert await kube.delete_owned("apps/v1", "Deployment", "ns", "theirs", "someone-else") is True
    assert kmock.objects["apps/v1/deployments", "ns", "theirs"].deleted


@pytest.mark.unit
async def test_a_closed_client_refuses_requests_instead_of_opening_a_new_session() -> None:
    client = KubeClient(KubeConnection(server="http://127.0.0.1:9"))
    await client.close()
    # Not "cannot connect to 127.0.0.1:9": the client never tries, so nothing is left open after shutdown.
    with pytest.raises(aiohttp.ClientConnectionError, match="API client is closed"):
        await client.get_secret("ns", "s")
