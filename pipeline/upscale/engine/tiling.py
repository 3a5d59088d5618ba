"""Tiled inference, as realesrgan's ``tile_process`` does it, with the image kept on the host.

The full image (or batch of frames) stays in CPU memory; only each padded tile travels to the
device and only its upscaled tile comes back, into a CPU buffer, so the largest image the
service accepts never has to fit on the GPU. Each tile is cut with ``tile_pad`` pixels of
context on every side and only its valid centre is pasted. The networks see further than any
practical pad, so a seam is never exact; how visible it is depends on the pad and on how many
pixels lie near a seam. Measured (fp32, tiled vs untiled, ``bench/tiling.py`` and the tests):
the manual's TILE_SIZE=512 / TILE_PAD=10 on a 1280×720 frame with ``anime_video`` gives
73 dB overall, 58 dB within 16 px of a seam; small tiles need a wider pad for RRDBNet models
(x4plus, 96² image, tile 48: pad 10 → 48 dB, pad 24 → 53 dB). ``tile_size=0`` runs the whole
image as one tile; ``"auto"`` sizes tiles from free memory.

On CUDA out-of-memory the batch and then the tile are halved and the work restarted, down to
``MIN_TILE``; past that the caller gets the manual's message verbatim. A ``StopToken`` is
checked before every tile, so a message past its deadline stops within one tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from common.errors import ProcessingError
from pipeline.cancellation import StopToken
from pipeline.upscale.engine.device import (
    Runtime,
    free_memory_bytes,
    is_out_of_memory,
    release_cached_memory,
)

OOM_MESSAGE = "Error procesando imagen: CUDA out of memory"
MIN_TILE = 32
MAX_AUTO_TILE_CUDA = 2048
MAX_AUTO_TILE_CPU = 512
# Peak activation elements per input pixel: RRDBNet holds ~3 tensors of 64 channels at the
# ×4 output resolution (16 px per input px); SRVGGNet stays at input resolution until the end.
_ACTIVATION_ELEMS = {"rrdbnet": 16 * 64 * 3, "srvggnet": 64 * 4 + 48 * 3}


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def auto_tile_size(arch: str, runtime: Runtime, batch: int = 1) -> int:
    """A tile edge that fits in ~60 % of the free memory (``TILE_SIZE=auto``)."""
    elem_bytes = torch.finfo(runtime.dtype).bits // 8
    per_pixel = _ACTIVATION_ELEMS.get(arch, 16 * 64 * 3) * elem_bytes * max(batch, 1)
    edge = int(math.sqrt(0.6 * free_memory_bytes(runtime.device) / per_pixel))
    cap = MAX_AUTO_TILE_CUDA if runtime.is_cuda else MAX_AUTO_TILE_CPU
    return max(MIN_TILE, min(cap, edge // 32 * 32))


def _run_tile(net: nn.Module, tile: Tensor, runtime: Runtime) -> Tensor:
    x = tile.to(runtime.device, dtype=runtime.dtype, non_blocking=True)
    if runtime.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        y = net(x).clamp_(0.0, 1.0)
    # Convert after the copy: half the bytes cross the bus for fp16/bf16.
    return y.to("cpu").float()


def _tile_rows(net: nn.Module, img: Tensor, scale: int, tile: int, pad: int, batch_size: int,
               runtime: Runtime, stop: StopToken | None) -> Iterator[tuple[int, Tensor]]:
    """Each row of tiles, upscaled: (its first output row, N×C×(rows·s)×(W·s) on the host)."""
    n, c, height, width = img.shape
    for y0 in range(0, height, tile):
        y1 = min(y0 + tile, height)
        py0, py1 = max(y0 - pad, 0), min(y1 + pad, height)
        row = torch.empty((n, c, (y1 - y0) * scale, width * scale), dtype=torch.float32)
        for x0 in range(0, width, tile):
            x1 = min(x0 + tile, width)
            px0, px1 = max(x0 - pad, 0), min(x1 + pad, width)
            for b0 in range(0, n, batch_size):
                if stop is not None:
                    stop.check()
                b1 = min(b0 + batch_size, n)
                result = _run_tile(net, img[b0:b1, :, py0:py1, px0:px1], runtime)
                oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
                row[b0:b1, :, :, x0 * scale : x1 * scale] = result[
                    :, :, oy : oy + (y1 - y0) * scale, ox : ox + (x1 - x0) * scale]
        yield y0 * scale, row


def pad_to_multiple(img: Tensor, multiple: int) -> Tensor:
    """Pad right/bottom to a multiple (pixel-unshuffle needs it), reflecting like realesrgan."""
    height, width = img.shape[-2:]
    ph, pw = round_up(height, multiple) - height, round_up(width, multiple) - width
    if ph == 0 and pw == 0:
        return img
    mode = "reflect" if ph < height and pw < width else "replicate"
    return F.pad(img, (0, pw, 0, ph), mode=mode)


def upscale_rows(net: nn.Module, img: Tensor, sink: Callable[[int, Tensor], None], *,
                 scale: int, runtime: Runtime, tile_size: int | Literal["auto"] = 0,
                 tile_pad: int = 10, batch_size: int = 1, multiple: int = 1,
                 arch: str = "rrdbnet", stop: StopToken | None = None) -> None:
    """Run ``net`` over ``img`` (N×3×H×W float in 0..1, CPU), one row of tiles at a time.

    ``sink(y, rows)`` receives consecutive bands of the N×3×(H·s)×(W·s) result (``y``: the
    band's first output row), so a caller that shrinks the result need never hold all of it:
    memory stays at one band of tiles. After a CUDA out-of-memory error the work restarts
    from the top with smaller tiles, and ``sink`` sees those rows again. ``multiple`` is the
    input granularity the net needs (2 for the ×2 RRDBNet); tiles and their padding are kept
    on that grid so the tiled result matches the untiled one.
    """
    _n, _c, height, width = img.shape
    padded = pad_to_multiple(img, multiple)
    ph, pw = padded.shape[-2:]
    if tile_size == "auto":
        tile_size = auto_tile_size(arch, runtime, batch_size)
    tile = round_up(tile_size, multiple) if tile_size > 0 else round_up(max(ph, pw), multiple)
    pad = round_up(tile_pad, multiple)
    batch = max(1, batch_size)
    while True:
        try:
            for y, rows in _tile_rows(net, padded, scale, tile, pad, batch, runtime, stop):
                keep = min(rows.shape[2], height * scale - y)
                if keep > 0:
                    sink(y, rows[:, :, :keep, : width * scale])
            return
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if not (runtime.is_cuda and is_out_of_memory(exc)):
                raise
            release_cached_memory(runtime.device)
            if batch > 1:
                batch //= 2
            elif tile // 2 >= MIN_TILE:
                tile = round_up(tile // 2, multiple)
            else:
                raise ProcessingError(OOM_MESSAGE) from exc


def upscale_tensor(net: nn.Module, img: Tensor, *, scale: int, runtime: Runtime,
                   tile_size: int | Literal["auto"] = 0, tile_pad: int = 10, batch_size: int = 1,
                   multiple: int = 1, arch: str = "rrdbnet",
                   stop: StopToken | None = None) -> Tensor:
    """``upscale_rows`` collected: N×3×(H·s)×(W·s) float on the host."""
    n, c, height, width = img.shape
    out = torch.empty((n, c, height * scale, width * scale), dtype=torch.float32)

    def keep(y: int, rows: Tensor) -> None:
        out[:, :, y : y + rows.shape[2]] = rows

    upscale_rows(net, img, keep, scale=scale, runtime=runtime, tile_size=tile_size,
                 tile_pad=tile_pad, batch_size=batch_size, multiple=multiple, arch=arch,
                 stop=stop)
    return out
