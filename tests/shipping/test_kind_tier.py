"""The kind tier's pieces that can be checked without a cluster: the capability shim's one rewrite, and
the pins that tie the node image to the envtest tier and to the kind config.

The tier itself runs with `make e2e-kind` (docs/testing.md, "kind tier").
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.shipping.dockerfiles import REPO_ROOT

pytestmark = pytest.mark.unit

KIND = REPO_ROOT / "e2e" / "kind"
SHIM = KIND / "docker-shim" / "docker"
# kind's default networking.podSubnet; the controller manager gives the first node its first /24.
KIND_POD_SUBNET = ipaddress.ip_network("10.244.0.0/16")


def shim(tmp_path: Path, *argv: str) -> list[str]:
    """Run the shim with a recording `docker` after it on PATH; the arguments that reached it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.json"
    recorder = bin_dir / "docker"
    recorder.write_text(
        f'#!/usr/bin/env python3\nimport json, sys\njson.dump(sys.argv[1:], open("{record}", "w"))\n',
        encoding="utf-8",
    )
    recorder.chmod(0o755)
    env = {**os.environ, "PATH": f"{SHIM.parent}:{bin_dir}:{os.environ['PATH']}"}
    subprocess.run([str(SHIM), *argv], check=True, env=env)
    recorded: list[str] = json.loads(record.read_text(encoding="utf-8"))
    return recorded


def test_the_shim_replaces_privileged_with_every_capability_the_host_has(tmp_path: Path) -> None:
    argv = shim(tmp_path, "run", "--name", "n", "--privileged", "--security-opt", "seccomp=unconfined", "image")
    assert argv == [
        "run",
        "--name",
        "n",
        "--cap-add",
        "ALL",
        "--cap-drop",
        "SYS_RESOURCE",
        "--security-opt",
        "systempaths=unconfined",
        "--device-cgroup-rule",
        "a *:* rwm",
        "--device",
        "/dev/fuse",
        "--device",
        "/dev/kmsg",
        "--security-opt",
        "seccomp=unconfined",
        "image",
    ]


def test_the_shim_drops_privileged_from_exec_which_gets_the_containers_capabilities(tmp_path: Path) -> None:
    assert shim(tmp_path, "exec", "--privileged", "node", "cat", "/kind/version") == [
        "exec",
        "node",
        "cat",
        "/kind/version",
    ]


def test_the_shim_passes_every_other_command_through_unchanged(tmp_path: Path) -> None:
    argv = ["inspect", "--format", "{{.HostConfig.Privileged}}", "--privileged"]
    assert shim(tmp_path, *argv) == argv


def go_mod(name: str) -> str:
    return (REPO_ROOT / "tools" / name / "go.mod").read_text(encoding="utf-8")


def requirement(mod: str, module: str) -> str:
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)", mod, re.MULTILINE)
    assert match, f"{module} is not required"
    return match[1]


def replaces(mod: str) -> list[str]:
    block = re.search(r"^replace \((.*?)^\)", mod, re.MULTILINE | re.DOTALL)
    assert block, "no replace block"
    return [line.strip() for line in block[1].splitlines() if line.strip()]


def test_the_node_binaries_and_the_envtest_control_plane_are_one_kubernetes() -> None:
    node, envtest = go_mod("kindnode"), go_mod("envtest")
    assert requirement(node, "k8s.io/kubernetes") == requirement(envtest, "k8s.io/kubernetes")
    # The same replace directives: the staging modules resolve alike and the two builds share Go's cache.
    assert replaces(node) == replaces(envtest)


def test_the_kind_config_asks_for_the_etcd_the_node_image_carries() -> None:
    config = yaml.safe_load((KIND / "cluster.yaml").read_text(encoding="utf-8"))
    patches = [yaml.safe_load(patch) for patch in config["kubeadmConfigPatches"]]
    (cluster_config,) = [patch for patch in patches if patch["kind"] == "ClusterConfiguration"]
    etcd = requirement(go_mod("envtest"), "go.etcd.io/etcd/server/v3")
    assert cluster_config["etcd"]["local"]["imageTag"] == f"{etcd.removeprefix('v')}-0"


def test_the_baked_pod_network_is_the_single_nodes_pod_cidr() -> None:
    config = yaml.safe_load((KIND / "cluster.yaml").read_text(encoding="utf-8"))
    assert len(config["nodes"]) == 1, "the node image's pod network has no routes between nodes"
    assert "podSubnet" not in (config.get("networking") or {}), "the baked CNI assumes kind's default podSubnet"
    conflist = json.loads((KIND / "node" / "10-ptp.conflist").read_text(encoding="utf-8"))
    (ranges,) = conflist["plugins"][0]["ipam"]["ranges"]
    subnet = ipaddress.ip_network(ranges[0]["subnet"])
    assert subnet.subnet_of(KIND_POD_SUBNET)  # type: ignore[arg-type]
    assert subnet.network_address == KIND_POD_SUBNET.network_address, "the first node gets the first /24"


def test_the_node_guards_the_clusters_own_service_range() -> None:
    config = yaml.safe_load((KIND / "cluster.yaml").read_text(encoding="utf-8"))
    guard = (KIND / "node" / "noetl-service-cidr-guard").read_text(encoding="utf-8")
    (guarded,) = re.findall(r"^SERVICE_CIDR=(\S+)$", guard, re.MULTILINE)
    assert ipaddress.ip_network(config["networking"]["serviceSubnet"]) == ipaddress.ip_network(guarded)
    # kubelet runs it before any pod, and the image build puts both files where kubelet finds them.
    drop_in = (KIND / "node" / "30-noetl-service-cidr-guard.conf").read_text(encoding="utf-8")
    assert "ExecStartPre=/usr/local/bin/noetl-service-cidr-guard" in drop_in
    build = (REPO_ROOT / "scripts" / "kind-node-image").read_text(encoding="utf-8")
    assert '"$node_files/noetl-service-cidr-guard" "$node/usr/local/bin/"' in build
    assert '"$node_files/30-noetl-service-cidr-guard.conf" "$node/etc/systemd/system/kubelet.service.d/"' in build
