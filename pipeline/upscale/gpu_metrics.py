"""GPU memory of this upscale worker, read from torch at scrape time.

Reported only once CUDA is initialised here (a scrape never initialises it): bytes held by
tensors now (``enhancer_gpu_memory_bytes``) and the most ever held
(``enhancer_gpu_memory_peak_bytes``), per device index.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_registered = False
_lock = threading.Lock()


class GpuMemoryCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_initialized():
            return
        in_use = GaugeMetricFamily("enhancer_gpu_memory_bytes",
                                   "GPU memory held by this worker's tensors", labels=["device"])
        peak = GaugeMetricFamily("enhancer_gpu_memory_peak_bytes",
                                 "Most GPU memory this worker's tensors ever held",
                                 labels=["device"])
        for index in range(torch.cuda.device_count()):
            in_use.add_metric([str(index)], torch.cuda.memory_allocated(index))
            peak.add_metric([str(index)], torch.cuda.max_memory_allocated(index))
        yield in_use
        yield peak


def register_gpu_metrics() -> None:
    """Once per process (the embedded run opens the upscale context once too)."""
    global _registered
    with _lock:
        if not _registered:
            REGISTRY.register(GpuMemoryCollector())
            _registered = True
