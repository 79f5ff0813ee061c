"""A three-node JetStream cluster on loopback, built from the product's nats-server launcher.

    with running_nats_cluster() as cluster:
        cluster.urls                      # ["nats://127.0.0.1:p1", ...] for clients (workers take them all)
        cluster.node("n2").kill()         # SIGKILL one node, as a crashed pod
        cluster.node("n2").start()        # back on the same ports and store; it rejoins and catches up

The block starts once the nodes have elected a JetStream meta leader.

Each node is a :class:`~noetl_standin.natsserver.NatsServer` (same binary lookup, same health wait) with
a server name, the cluster name and routes to its two peers. A single server hides leader changes; this is
the shape production runs in (streams and consumers with three replicas).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from noetl_standin.natsserver import NatsServer, free_port

__all__ = ["NatsCluster", "running_nats_cluster"]

CLUSTER_NAME = "noetl-test"


@dataclass
class NatsCluster:
    nodes: dict[str, NatsServer]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def node(self, name: str) -> NatsServer:
        return self.nodes[name]

    def running(self) -> list[str]:
        return [name for name, node in self.nodes.items() if node.process is not None]

    def wait_for_meta_leader(self, timeout: float = 30.0) -> str:
        """Block until the running nodes agree on a JetStream meta leader that is one of them, and return its
        name. Until then JetStream answers no API call (a fresh cluster's stream creation times out), and
        right after a node is killed the survivors still name it for a while."""
        deadline = time.monotonic() + timeout
        while True:
            running = self.running()
            leaders = {self._meta_leader(self.nodes[name]) for name in running}
            if len(leaders) == 1 and (leader := leaders.pop()) in running:
                return leader
            if time.monotonic() > deadline:
                raise TimeoutError(f"no JetStream meta leader within {timeout:.0f} s (nodes report {leaders})")
            time.sleep(0.2)

    @staticmethod
    def _meta_leader(node: NatsServer) -> str:
        try:
            with urllib.request.urlopen(f"{node.monitor_url}/jsz", timeout=2) as answer:
                return str(json.load(answer).get("meta_cluster", {}).get("leader") or "")
        except (OSError, ValueError):
            return ""


@contextlib.contextmanager
def running_nats_cluster(size: int = 3, host: str = "127.0.0.1") -> Iterator[NatsCluster]:
    """Start ``size`` JetStream nodes routed to each other; stop them all when the block ends."""
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="noetl-nats-cluster-")))
        names = [f"n{i + 1}" for i in range(size)]
        route_ports = {name: free_port(host) for name in names}
        nodes: dict[str, NatsServer] = {}
        for name in names:
            store = root / name
            store.mkdir()
            routes = ",".join(f"nats-route://{host}:{route_ports[peer]}" for peer in names if peer != name)
            nodes[name] = NatsServer(
                host=host,
                port=free_port(host),
                monitor_port=free_port(host),
                store_dir=store,
                extra_args=(
                    "--name", name, "--cluster_name", CLUSTER_NAME,
                    "--cluster", f"nats://{host}:{route_ports[name]}", "--routes", routes,
                ),
            )  # fmt: skip
        for node in nodes.values():
            stack.callback(node.stop)
            node.start()
        cluster = NatsCluster(nodes)
        cluster.wait_for_meta_leader()
        yield cluster
