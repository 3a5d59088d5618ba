"""Crops through the network in batches, with host↔device copies overlapped with compute.

The tile loop (:mod:`pipeline.upscale.engine.tiling`) hands the ``Feeder`` every crop of one
row of tiles, of every frame; the feeder groups crops of one shape into batches of
``batch_size`` (so tiles *and* frames share a forward pass) and, on CUDA:

- pads a short batch to the next power of two, so the network sees a few fixed shapes
  (cuDNN's autotuner, ``torch.compile`` and CUDA graphs each keep one plan per shape);
- stages crops in pinned host buffers reused across batches (two per shape, in turns) and
  uploads them with ``non_blocking`` copies on a second CUDA stream, while the previous
  batch computes; uint8 frames travel as uint8 (¼ of float32) and become floats there;
- finishes each result on the device (clamp, an integer area shrink, quantisation to uint8
  when asked) so the copy back carries the final bytes, not floats at the native scale;
- copies results back on that second stream into pinned buffers, one batch behind.

On the CPU the same code runs synchronously: no pinned memory, no streams, no padding
(padding costs compute there and no graph needs it), and every buffer is fresh. Batching
never changes a crop's pixels: each crop of a batch is computed as it would be alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from pipeline.cancellation import StopToken
from pipeline.upscale.engine.device import Runtime

Network = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Finish:
    """What becomes of the network's output on the device, before the copy back.

    ``shrink``: area resize by this integer factor (a box average: what OpenCV's INTER_AREA
    computes for an integer ratio). ``quantize``: 0..1 floats → uint8 (round half to even,
    as ``np.rint``); otherwise float32 comes back.
    """

    shrink: int = 1
    quantize: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return torch.uint8 if self.quantize else torch.float32


# Float32 back, at the native scale: what the image path wants.
AS_IS = Finish()


def padded_batch(count: int, batch_size: int) -> int:
    """The batch a ``count``-crop batch is padded to: the next power of two, at most
    ``batch_size`` (so a worker sees log2(batch_size)+1 batch shapes at most)."""
    size = 1
    while size < count:
        size *= 2
    return max(count, min(size, batch_size))


def shape_batches(crops: Sequence[Tensor], batch_size: int) -> Iterator[list[int]]:
    """Indices of ``crops`` in batches of one shape, at most ``batch_size`` each, in order."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, crop in enumerate(crops):
        groups.setdefault(tuple(crop.shape), []).append(index)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]


def finish_on_device(y: Tensor, finish: Finish) -> Tensor:
    y = y.clamp_(0.0, 1.0)
    if finish.shrink > 1:
        y = F.avg_pool2d(y.float(), finish.shrink)
    if finish.quantize:
        return y.float().mul_(255.0).round_().to(torch.uint8)
    return y


@dataclass
class _InFlight:
    indices: list[int]
    host_out: Tensor
    done: Any  # torch.cuda.Event on CUDA, None on the CPU


class Feeder:
    """Runs ``net`` over crops for one runtime; reusable across calls (buffers persist)."""

    def __init__(self, net: Network, runtime: Runtime, *, batch_size: int = 1,
                 finish: Finish = AS_IS, pad_batch: bool | None = None) -> None:
        self.net = net
        self.runtime = runtime
        self.batch_size = max(1, batch_size)
        self.finish = finish
        self.pad_batch = runtime.is_cuda if pad_batch is None else pad_batch
        self._cuda = runtime.is_cuda
        self._copies = torch.cuda.Stream(runtime.device) if self._cuda else None
        # (role, slot, shape, dtype) → pinned buffer, and the event after its last use.
        self._buffers: dict[tuple[Any, ...], Tensor] = {}
        self._released: dict[tuple[Any, ...], Any] = {}
        self._turn = 0

    # -- host buffers -------------------------------------------------------------------

    def _buffer(self, role: str, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        if not self._cuda:
            return torch.empty(shape, dtype=dtype)
        key = (role, self._turn % 2, shape, dtype)
        if key not in self._buffers:
            self._buffers[key] = torch.empty(shape, dtype=dtype, pin_memory=True)
        released = self._released.pop(key, None)
        if released is not None:
            released.synchronize()  # the copy that last used this buffer has finished
        return self._buffers[key]

    def _release(self, role: str, shape: tuple[int, ...], dtype: torch.dtype,
                 event: Any) -> None:
        if self._cuda:
            self._released[(role, self._turn % 2, shape, dtype)] = event

    # -- one batch ----------------------------------------------------------------------

    def _prepare(self, x: Tensor) -> Tensor:
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        x = x.to(self.runtime.dtype)
        if self.runtime.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _launch(self, crops: Sequence[Tensor], indices: list[int]) -> _InFlight:
        first = crops[indices[0]]
        count = len(indices)
        rows = padded_batch(count, self.batch_size) if self.pad_batch else count
        staged = self._buffer("in", (rows, *first.shape), first.dtype)
        for row, index in enumerate(indices):
            staged[row].copy_(crops[index])
        if rows > count:
            staged[count:].zero_()
        if not self._cuda:
            with torch.inference_mode():
                y = finish_on_device(self.net(self._prepare(staged)), self.finish)
            return _InFlight(indices, y[:count].to(self.finish.dtype), None)
        assert self._copies is not None
        compute = torch.cuda.current_stream(self.runtime.device)
        with torch.cuda.stream(self._copies):
            x = staged.to(self.runtime.device, non_blocking=True)
            uploaded = torch.cuda.Event()
            uploaded.record(self._copies)
        self._release("in", tuple(staged.shape), staged.dtype, uploaded)
        compute.wait_event(uploaded)
        x.record_stream(compute)
        with torch.inference_mode():
            y = finish_on_device(self.net(self._prepare(x)), self.finish)[:count]
            y = y.to(self.finish.dtype)
        computed = torch.cuda.Event()
        computed.record(compute)
        shape = tuple(y.shape)
        host_out = self._buffer("out", shape, self.finish.dtype)
        with torch.cuda.stream(self._copies):
            self._copies.wait_event(computed)
            host_out.copy_(y, non_blocking=True)
            y.record_stream(self._copies)
            done = torch.cuda.Event()
            done.record(self._copies)
        self._release("out", shape, self.finish.dtype, done)
        return _InFlight(indices, host_out, done)

    @staticmethod
    def _collect(flight: _InFlight) -> Iterator[tuple[int, Tensor]]:
        if flight.done is not None:
            flight.done.synchronize()
        for row, index in enumerate(flight.indices):
            yield index, flight.host_out[row]

    def run(self, crops: Sequence[Tensor], stop: StopToken | None = None,
            ) -> Iterator[tuple[int, Tensor]]:
        """(index into ``crops``, its finished C×h×w result on the host), batch by batch.

        Each batch is launched before the previous one's results are handed out, so its
        upload and compute overlap the caller's pasting. A result is a view of a reused
        buffer: copy it before asking for the item after the next batch's. ``stop`` is
        checked before every batch.
        """
        pending: _InFlight | None = None
        for indices in shape_batches(crops, self.batch_size):
            if stop is not None:
                stop.check()
            launched = self._launch(crops, indices)
            self._turn += 1
            if pending is not None:
                yield from self._collect(pending)
            pending = launched
        if pending is not None:
            yield from self._collect(pending)
