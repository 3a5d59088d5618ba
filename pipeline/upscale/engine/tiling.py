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

Tiles are balanced; on CUDA every crop of an image has one shape (:func:`axis_tiles`: an edge
tile takes its extra context from inside the image), so crops batch together; the
:class:`~pipeline.upscale.engine.feeder.Feeder` runs them (batched across the tiles of a row on
CUDA, with overlapped copies and device-side finishing).

On CUDA out-of-memory the batch and then the tile are halved and the work restarted, down to
``MIN_TILE``; past that the caller gets the manual's message verbatim. A ``StopToken`` is
checked before every batch, so a message past its deadline stops within one batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from common.errors import ProcessingError
from pipeline.cancellation import StopToken
from pipeline.upscale.engine.device import (
    Runtime,
    free_memory_bytes,
    is_out_of_memory,
    release_cached_memory,
)
from pipeline.upscale.engine.feeder import AS_IS, Feeder, Finish, Network

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


def axis_tiles(length: int, tile: int, pad: int, multiple: int = 1, uniform: bool = True,
               ) -> list[tuple[int, int, int, int]]:
    """One axis cut into tiles: (core start, core end, window start, window end) each.

    Cores are balanced (``ceil(length / tile)`` of them, equal up to the last). ``uniform``:
    every window has one span, ``core + 2·pad`` (or the whole axis): an edge tile takes its
    extra context from inside the image rather than being smaller, so every crop of an image
    has one shape (batched together, one plan per shape on the GPU). Otherwise windows are the
    core ± ``pad`` clipped to the image (fewer pixels: the CPU, which does not batch tiles).
    Either way every core has at least ``pad`` pixels of context wherever the image has them.
    All on ``multiple``.
    """
    pad = round_up(pad, multiple)
    if tile <= 0 or tile + 2 * pad >= length:
        return [(0, length, 0, length)]
    count = -(-length // tile)
    core = round_up(-(-length // count), multiple)
    span = min(core + 2 * pad, length)
    tiles = []
    for c0 in range(0, length, core):
        c1 = min(c0 + core, length)
        if uniform:
            w0 = min(max(c0 - pad, 0), length - span)
            tiles.append((c0, c1, w0, w0 + span))
        else:
            tiles.append((c0, c1, max(c0 - pad, 0), min(c1 + pad, length)))
    return tiles


def _tile_rows(feeder: Feeder, img: Tensor, scale: int, tile: int, pad: int, multiple: int,
               across_tiles: bool, uniform: bool, stop: StopToken | None,
               ) -> Iterator[tuple[int, Tensor]]:
    """Each row of tiles, upscaled and finished: (its first output row, N×C×rows×W' on the
    host, in the feeder's output dtype). ``across_tiles``: all crops of a row, of every
    frame, go to the feeder together, so tiles and frames share batches; otherwise one
    column at a time (frames share batches, the tile's memory stays that of one tile)."""
    n, c, height, width = img.shape
    shrink = feeder.finish.shrink
    out_scale = scale // shrink  # per input pixel, after the device-side shrink
    columns = axis_tiles(width, tile, pad, multiple, uniform)
    for y0, y1, wy0, wy1 in axis_tiles(height, tile, pad, multiple, uniform):
        row = torch.empty((n, c, (y1 - y0) * out_scale, width * out_scale),
                          dtype=feeder.finish.dtype)
        groups = [columns] if across_tiles else [[col] for col in columns]
        for group in groups:
            places = [(f, col) for col in group for f in range(n)]
            crops = [img[f, :, wy0:wy1, col[2] : col[3]] for f, col in places]
            for index, result in feeder.run(crops, stop):
                f, (x0, x1, wx0, _wx1) = places[index]
                oy, ox = (y0 - wy0) * out_scale, (x0 - wx0) * out_scale
                row[f, :, :, x0 * out_scale : x1 * out_scale] = result[
                    :, oy : oy + (y1 - y0) * out_scale, ox : ox + (x1 - x0) * out_scale]
        yield y0 * out_scale, row


def pad_to_multiple(img: Tensor, multiple: int) -> Tensor:
    """Pad right/bottom to a multiple (pixel-unshuffle needs it), reflecting like realesrgan."""
    height, width = img.shape[-2:]
    ph, pw = round_up(height, multiple) - height, round_up(width, multiple) - width
    if ph == 0 and pw == 0:
        return img
    mode = "reflect" if ph < height and pw < width else "replicate"
    return F.pad(img, (0, pw, 0, ph), mode=mode)


def upscale_rows(net: Network, img: Tensor, sink: Callable[[int, Tensor], None], *,
                 scale: int, runtime: Runtime, tile_size: int | Literal["auto"] = 0,
                 tile_pad: int = 10, batch_size: int = 1, multiple: int = 1,
                 arch: str = "rrdbnet", stop: StopToken | None = None,
                 finish: Finish = AS_IS, pad_batch: bool | None = None,
                 across_tiles: bool | None = None, uniform_tiles: bool | None = None) -> None:
    """Run ``net`` over ``img`` (N×3×H×W float in 0..1, CPU), one row of tiles at a time.

    ``sink(y, rows)`` receives consecutive bands of the N×3×(H·s)×(W·s) result (``y``: the
    band's first output row), so a caller that shrinks the result need never hold all of it:
    memory stays at one band of tiles. After a CUDA out-of-memory error the work restarts
    from the top with smaller tiles, and ``sink`` sees those rows again. ``multiple`` is the
    input granularity the net needs (2 for the ×2 RRDBNet); tiles and their padding are kept
    on that grid so the tiled result matches the untiled one. ``img`` may be uint8 (0..255,
    video frames: they travel to the device as bytes). ``finish`` (see :class:`Finish`)
    shrinks and quantises on the device: rows then come at ``scale // finish.shrink``.
    ``across_tiles`` (default: on CUDA) batches the tiles of a row together, which a GPU needs
    to be busy; on the CPU one tile already fills the cores, and batching tiles would multiply
    the activation memory that ``tile_size`` is meant to bound. ``uniform_tiles`` (default:
    as ``across_tiles``) gives every crop one shape (:func:`axis_tiles`).
    """
    _n, _c, height, width = img.shape
    if finish.shrink < 1 or scale % finish.shrink:
        raise ValueError(f"shrink {finish.shrink} must divide the scale {scale}")
    if img.dtype == torch.uint8 and (height % multiple or width % multiple):
        img = img.float().div_(255.0)  # reflect-padding needs floats
    padded = pad_to_multiple(img, multiple)
    ph, pw = padded.shape[-2:]
    if tile_size == "auto":
        tile_size = auto_tile_size(arch, runtime, batch_size)
    tile = round_up(tile_size, multiple) if tile_size > 0 else round_up(max(ph, pw), multiple)
    pad = round_up(tile_pad, multiple)
    batch = max(1, batch_size)
    out_scale = scale // finish.shrink
    while True:
        feeder = Feeder(net, runtime, batch_size=batch, finish=finish, pad_batch=pad_batch)
        try:
            batch_tiles = runtime.is_cuda if across_tiles is None else across_tiles
            uniform = batch_tiles if uniform_tiles is None else uniform_tiles
            rows_of = _tile_rows(feeder, padded, scale, tile, pad, multiple, batch_tiles,
                                 uniform, stop)
            for y, rows in rows_of:
                keep = min(rows.shape[2], height * out_scale - y)
                if keep > 0:
                    sink(y, rows[:, :, :keep, : width * out_scale])
            return
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if not (runtime.is_cuda and is_out_of_memory(exc)):
                raise
            del feeder
            release_cached_memory(runtime.device)
            if batch > 1:
                batch //= 2
            elif tile // 2 >= MIN_TILE:
                tile = round_up(tile // 2, multiple)
            else:
                raise ProcessingError(OOM_MESSAGE) from exc


def upscale_tensor(net: Network, img: Tensor, *, scale: int, runtime: Runtime,
                   tile_size: int | Literal["auto"] = 0, tile_pad: int = 10, batch_size: int = 1,
                   multiple: int = 1, arch: str = "rrdbnet", stop: StopToken | None = None,
                   finish: Finish = AS_IS, pad_batch: bool | None = None,
                   across_tiles: bool | None = None, uniform_tiles: bool | None = None,
                   ) -> Tensor:
    """``upscale_rows`` collected: N×3×(H·s')×(W·s') on the host (s' = scale // shrink;
    float32, or uint8 when ``finish.quantize``)."""
    n, c, height, width = img.shape
    out_scale = scale // max(1, finish.shrink)
    out = torch.empty((n, c, height * out_scale, width * out_scale), dtype=finish.dtype)

    def keep(y: int, rows: Tensor) -> None:
        out[:, :, y : y + rows.shape[2]] = rows

    upscale_rows(net, img, keep, scale=scale, runtime=runtime, tile_size=tile_size,
                 tile_pad=tile_pad, batch_size=batch_size, multiple=multiple, arch=arch,
                 stop=stop, finish=finish, pad_batch=pad_batch, across_tiles=across_tiles,
                 uniform_tiles=uniform_tiles)
    return out
