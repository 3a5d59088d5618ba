"""docs/grafana-dashboard.json is valid and charts only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

import common.metrics
import pipeline.upscale.gpu_metrics

ROOT = Path(__file__).resolve().parents[1]
# Histograms and counters export suffixed series; the GPU collector its two gauges.
_SUFFIXES = ("_total", "_bucket", "_sum", "_count")
_COLLECTED = {"enhancer_gpu_memory_bytes", "enhancer_gpu_memory_peak_bytes"}


def _exported() -> set[str]:
    names = set(_COLLECTED)
    for value in vars(common.metrics).values():
        if isinstance(value, MetricWrapperBase):
            names.update(family.name for family in value.describe())
    return names


def test_every_charted_metric_is_exported() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    charted = {name for expr in exprs for name in re.findall(r"\benhancer_[a-z_]+", expr)}
    exported = _exported()
    assert pipeline.upscale.gpu_metrics.GpuMemoryCollector  # the source of _COLLECTED
    missing = {name for name in charted
               if name not in exported and not any(name.endswith(s) and
                                                   name.removesuffix(s) in exported
                                                   for s in _SUFFIXES)}
    assert missing == set()
    assert len(charted) >= 12 and len({p["id"] for p in dashboard["panels"]}) == len(
        dashboard["panels"])
