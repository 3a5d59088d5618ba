"""Optional speed-ups of a loaded network: ``torch.compile`` and CUDA graphs.

``TORCH_COMPILE`` (off, default, reduce-overhead, max-autotune) picks the compile mode; its
caches (Inductor's and Triton's kernels) live under ``MODELS_DIR/torch-compile`` so a worker
restarted on the same volume does not compile again. Compilation happens on a network's first
call for each input shape, which the feeder keeps to a few (one crop shape per image size,
power-of-two batches). On the CPU the engine measured only ~5 % from compiling (see
ARCHITECTURE), so the default stays off there and everywhere until measured on the GPU.

``CUDA_GRAPHS`` replays one captured graph per input shape instead of launching every kernel
from Python: worth it for small tiles where launch overhead dominates. Graphs need static
shapes, which the feeder gives (fixed crop shape, padded batch). Ignored on the CPU, and when
``reduce-overhead`` already captures graphs itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

CompileMode = Literal["off", "default", "reduce-overhead", "max-autotune"]
COMPILE_MODES: tuple[str, ...] = ("off", "default", "reduce-overhead", "max-autotune")
# A worker sees a handful of shapes; beyond this many, new shapes run eagerly instead of
# each holding a private graph memory pool.
MAX_GRAPHS = 8

log = logging.getLogger(__name__)


def compile_cache_dir(models_dir: Path | str) -> Path:
    return Path(models_dir) / "torch-compile"


def use_compile_cache(models_dir: Path | str) -> Path:
    """Point Inductor's and Triton's caches into the models volume (unless set already)."""
    folder = compile_cache_dir(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))
    return folder


def compile_network(net: nn.Module, mode: str, models_dir: Path | str,
                    dynamic: bool | None = None) -> nn.Module:
    """``net`` compiled in ``mode`` ("off": unchanged)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"TORCH_COMPILE must be one of {', '.join(COMPILE_MODES)}: {mode!r}")
    if mode == "off":
        return net
    use_compile_cache(models_dir)
    options: dict[str, Any] = {"dynamic": dynamic}
    if mode != "default":
        options["mode"] = mode
    return torch.compile(net, **options)  # type: ignore[return-value]


class GraphedNetwork(nn.Module):
    """``inner`` replayed from one CUDA graph per input shape and dtype.

    The first call of a shape warms up on a side stream (cuDNN picks its algorithms), then
    captures; later calls copy the input into the graph's static input and replay. The
    output is cloned, so a caller may hold it while the next batch replays.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self._graphs: dict[tuple[Any, ...], tuple[Any, Tensor, Tensor]] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["inner"], name)

    def _capture(self, x: Tensor) -> tuple[Any, Tensor, Tensor]:
        static_in = x.clone()
        side = torch.cuda.Stream(x.device)
        side.wait_stream(torch.cuda.current_stream(x.device))
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(2):
                self.inner(static_in)
        torch.cuda.current_stream(x.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            static_out = self.inner(static_in)
        return graph, static_in, static_out

    def forward(self, x: Tensor) -> Tensor:
        if not x.is_cuda:
            return self.inner(x)
        key = (tuple(x.shape), x.dtype, x.is_contiguous(memory_format=torch.channels_last))
        if key not in self._graphs:
            if len(self._graphs) >= MAX_GRAPHS:
                return self.inner(x)
            self._graphs[key] = self._capture(x)
            log.info("CUDA graph captured for input %s %s", key[0], key[1])
        graph, static_in, static_out = self._graphs[key]
        static_in.copy_(x)
        graph.replay()
        return static_out.clone(memory_format=torch.preserve_format)


def accelerate(net: nn.Module, *, device: torch.device, compile_mode: str,
               cuda_graphs: bool, models_dir: Path | str) -> nn.Module:
    """The network as the engine runs it: compiled if asked, graphed on CUDA if asked."""
    net = compile_network(net, compile_mode, models_dir)
    if cuda_graphs and device.type == "cuda" and compile_mode != "reduce-overhead":
        net = GraphedNetwork(net)
    elif cuda_graphs and device.type != "cuda":
        log.info("CUDA_GRAPHS ignored: the engine runs on %s", device.type)
    return net
