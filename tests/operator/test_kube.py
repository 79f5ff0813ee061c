"""The client layer: credentials from a kubeconfig, and the API server's own error messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from noetl_operator.kube import KubeApiError, KubeClient, KubeConnection, load_connection

from tests.operator.kmockapi import ApplyingEmulator, declare_cluster


@pytest.mark.unit
def test_token_and_ca_come_from_the_kubeconfig(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("not parsed here", encoding="utf-8")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443/", "certificate-authority": str(ca)}}],
        "users": [{"name": "u", "user": {"token": "secret-token"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    connection = load_connection(str(path))
    assert connection.server == "https://10.0.0.1:6443"
    assert connection.token == "secret-token"
    assert connection.ca_path == str(ca)
    assert connection.headers() == {"Authorization": "Bearer secret-token"}
    assert connection.insecure is False


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
