"""Where and in which precision the networks run.

CUDA runs the whole network in fp16 (default) or bf16, as the official ``half=True`` does. On
CPU, converting the network to bf16 in channels_last layout is ~2–3× faster than eager fp32 on
CPUs with AVX512-BF16/AMX (PSNR vs fp32 ≈ 51–55 dB, measured here), and faster than autocast,
which re-casts the weights at every call; CPUs without native bf16 stay in fp32, where bf16
would be emulated and slower.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "fp16", "bf16"]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    cpu = torch.cpu
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    return False


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    dtype: torch.dtype
    channels_last: bool

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def precision(self) -> str:
        return {v: k for k, v in _DTYPES.items()}[self.dtype]


def select_runtime(use_gpu: bool = True, precision: Precision = "auto",
                   channels_last: bool = True, device: str | torch.device | None = None,
                   ) -> Runtime:
    """The runtime for the settings; asking for a GPU where none exists falls back to CPU.

    ``device`` overrides ``use_gpu`` (e.g. ``"cuda:1"`` to pin a worker to one card).
    """
    if device is not None:
        dev = torch.device(device)
    elif use_gpu and torch.cuda.is_available():
        dev = torch.device("cuda")
    else:
        dev = torch.device("cpu")
    if dev.type == "cuda":
        if precision == "fp32":
            dtype = torch.float32
        elif precision == "bf16" and torch.cuda.is_bf16_supported():
            dtype = torch.bfloat16
        else:
            dtype = torch.float16
    else:
        # fp16 on CPU is emulated and slow; treat it like "auto" there.
        if precision == "fp32" or (precision != "bf16" and not cpu_supports_bf16()):
            dtype = torch.float32
        else:
            dtype = torch.bfloat16
    return Runtime(dev, dtype, channels_last)


def free_memory_bytes(device: torch.device) -> int:
    """Memory a tile may use now: free CUDA memory, or available RAM on CPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        return 2 << 30


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def release_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
