"""A real Prometheus on a random loopback port: scrape configs and rules in, PromQL answers out.

The binary comes from ``scripts/prometheus-assets`` (built from the Go module proxy). The process is spawned
like the envtest binaries (own process group, parent-death signal), so a killed pytest takes it down; its
data folder is temporary.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from noetl_standin.natsserver import free_port

from tests.support.processes import Process, spawn

__all__ = ["PrometheusServer", "ScrapeTarget", "running_prometheus"]


@dataclass(frozen=True)
class ScrapeTarget:
    """One scrape job: ``host:port`` targets, extra target labels, and whether the series' labels win."""

    job: str
    targets: Sequence[str]
    labels: Mapping[str, str]
    honor_labels: bool = False


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    process: Process

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} {dict(params)}: {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector ``promql`` evaluates to now."""
        data = self._get("/api/v1/query", {"query": promql})
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        data = self._get(
            "/api/v1/query_range", {"query": promql, "start": str(start), "end": str(end), "step": str(step)}
        )
        result: list[dict[str, Any]] = data["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts."""
        alerts: list[dict[str, Any]] = self._get("/api/v1/alerts", {})["alerts"]
        return alerts

    def targets_up(self) -> dict[str, str]:
        """Scrape URL -> health (``up``, ``down``, ``unknown``)."""
        data = self._get("/api/v1/targets", {"state": "active"})
        return {target["scrapeUrl"]: target["health"] for target in data["activeTargets"]}

    def log_tail(self, lines: int = 30) -> str:
        return self.process.log_tail(lines)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _config(targets: Sequence[ScrapeTarget], interval: float, rule_file: Path | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {"scrape_interval": f"{interval:g}s", "evaluation_interval": f"{interval:g}s"},
        "scrape_configs": [
            {
                "job_name": target.job,
                "honor_labels": target.honor_labels,
                "static_configs": [{"targets": list(target.targets), "labels": dict(target.labels)}],
            }
            for target in targets
        ],
    }
    if rule_file is not None:
        config["rule_files"] = [str(rule_file)]
    return config


@contextlib.contextmanager
def running_prometheus(
    binary: Path,
    targets: Sequence[ScrapeTarget],
    *,
    rules: Mapping[str, Any] | None = None,
    interval: float = 1.0,
    startup_timeout: float = 60.0,
) -> Iterator[PrometheusServer]:
    """Start Prometheus scraping ``targets`` every ``interval`` seconds and evaluating ``rules`` as often."""
    with tempfile.TemporaryDirectory(prefix="noetl-prometheus-") as workdir:
        folder = Path(workdir)
        rule_file = None
        if rules is not None:
            rule_file = folder / "rules.yaml"
            rule_file.write_text(yaml.safe_dump(dict(rules)), encoding="utf-8")
        config_file = folder / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(_config(targets, interval, rule_file)), encoding="utf-8")
        port = free_port()
        process = spawn(
            "prometheus",
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            folder,
        )
        server = PrometheusServer(url=f"http://127.0.0.1:{port}", process=process)
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if _ready(server.url):
                    break
                if not process.alive():
                    raise RuntimeError(f"prometheus exited:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"prometheus not ready after {startup_timeout:.0f}s:\n{server.log_tail()}")
                time.sleep(0.2)
            yield server
        finally:
            process.stop()
