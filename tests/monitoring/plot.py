"""Plot the dashboard's panels from a Prometheus over a time range (docs/operations-dashboard.png)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on CI machines

import matplotlib.pyplot as plt

from monitoring.definitions import PANELS
from tests.support.prometheus import PrometheusServer

__all__ = ["plot_dashboard"]


def _legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def plot_dashboard(
    prometheus: PrometheusServer, to_query: Callable[[str], str], start: float, end: float, path: Path
) -> None:
    """One subplot per panel, two a row, each target's series as lines (seconds since ``start``)."""
    rows = math.ceil(len(PANELS) / 2)
    figure, axes = plt.subplots(rows, 2, figsize=(14, 3.2 * rows), constrained_layout=True)
    step = max(1.0, (end - start) / 300)
    for axis, panel in zip(axes.flat, PANELS, strict=False):
        for target in panel.targets:
            for series in prometheus.query_range(to_query(target.expr), start, end, step):
                times = [float(t) - start for t, _ in series["values"]]
                values = [float(v) if v not in ("NaN", "+Inf", "-Inf") else math.nan for _, v in series["values"]]
                axis.plot(times, values, label=_legend(target.legend, series["metric"]))
        axis.set_title(panel.title, fontsize=10)
        axis.set_xlabel("seconds into the run", fontsize=8)
        axis.set_ylabel(panel.unit, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7, loc="upper left")
    for axis in list(axes.flat)[len(PANELS) :]:
        axis.set_visible(False)
    figure.suptitle("NoETL worker pool — dashboard queries from a real run (tests/monitoring/test_live.py)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
