"""Shrinking requests stay within memory: a band of tiles is shrunk as it leaves the network,
so an image at a scale below the model's never exists whole at the native scale. Checked for
equality with the whole-image path, and for its peak memory in a child process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from common.models import MODELS
from pipeline.upscale.engine.engine import Enhancer, resize_to
from pipeline.upscale.engine.imageio import to_gray

ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize(("width", "height"), [(70, 50), (140, 100), (210, 150), (35, 100)])
def test_band_by_band_shrinking_equals_the_whole_image_path(
    models_dir: Path, width: int, height: int
) -> None:
    """Scales 1, 2, 3 of a ×4 model and an explicit size whose rows map exactly: the same
    pixels as upscaling the whole image, then resizing it (plus a gray plane, as alpha)."""
    rgb = data.astronaut()[100:150, 200:270].astype(np.float32) / 255.0
    batch = np.stack([rgb, rgb[::-1]])
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=16, tile_pad=4,
                        models_dir=models_dir, auto_fetch=False)
    spec = MODELS["anime_video"]
    native = enhancer.upscale_native(batch, spec)
    whole = [resize_to(native[0], width, height), resize_to(to_gray(native[1]), width, height)]
    banded = enhancer.upscale_to(batch, spec, width, height, gray=(False, True))
    for expected, got in zip(whole, banded, strict=True):
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-5


_PEAK = textwrap.dedent("""
    import io, json, sys
    import torch
    from PIL import Image
    from pipeline.upscale.engine.engine import Enhancer

    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    torch.set_num_threads(1)
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=64, tile_pad=4,
                        models_dir=sys.argv[1], auto_fetch=False)
    def png(size):
        out = io.BytesIO()
        Image.new("RGB", (size, size)).save(out, "PNG")
        return out.getvalue()
    enhancer.enhance_image(png(160), model_type="anime_video", scale=1)  # warm: whole tiles
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as reset:  # the peak starts over from here
        reset.write("5")
    result = enhancer.enhance_image(png(int(sys.argv[2])), model_type="anime_video", scale=1)
    print(json.dumps({"peak": status("VmHWM") - before, "size": [result.width, result.height]}))
""")


def test_a_black_image_at_scale_one_never_holds_its_native_size(
    models_dir: Path, tmp_path: Path
) -> None:
    """448² at scale 1 on a ×4 model: the native result is 1792² × 3 floats (37 MiB), held
    about twice over by the whole-image path (measured: 62 MiB at 384²); banded, the whole
    call peaks below one copy (measured: 17 MiB at 384²)."""
    size = 448
    done = subprocess.run([sys.executable, "-c", _PEAK, str(models_dir), str(size)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    native_bytes = (size * 4) ** 2 * 3 * 4
    print(f"peak {measured['peak'] / 2**20:.1f} MiB; native copy {native_bytes / 2**20:.1f} MiB")
    assert measured["size"] == [size, size]
    assert measured["peak"] < native_bytes


def test_a_constant_alpha_plane_stays_constant_at_the_output_size(models_dir: Path) -> None:
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=32, models_dir=models_dir,
                        auto_fetch=False)
    picture = Image.new("RGBA", (40, 30), (10, 200, 30, 77))
    out = io.BytesIO()
    picture.save(out, "PNG")
    result = enhancer.enhance_image(out.getvalue(), model_type="anime_video", scale=2)
    with Image.open(io.BytesIO(result.data)) as back:
        assert back.size == (80, 60) and back.mode == "RGBA"
        assert set(np.asarray(back)[..., 3].ravel()) == {77}
