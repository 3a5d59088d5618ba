"""What the client sends comes back in kind: alpha, 16-bit, gray, palette, orientation, ICC."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from common.errors import InvalidInput, ProcessingError, TooLarge, UnsupportedFormat
from common.models import MODELS
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.imageio import _png16, decode_image, encode_image, orient
from tests.pipeline.upscale.engine.conftest import png_bytes, psnr

MODEL = "anime_video"  # real weights, and the cheapest network: these tests are about I/O


@pytest.fixture(scope="module")
def enhancer(models_dir: Path) -> Enhancer:
    return Enhancer(use_gpu=False, precision="fp32", tile_size=0, models_dir=models_dir,
                    auto_fetch=False)


@pytest.fixture(scope="module")
def small(photos: dict[str, np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(photos["astronaut"][:24, :32])  # 32 wide × 24 high


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _cv2_decode(data: bytes) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    return decoded


def test_rgba_keeps_an_upscaled_alpha(enhancer: Enhancer, small: np.ndarray) -> None:
    alpha = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (24, 1))
    rgba = np.dstack([small, alpha])
    out = _open(enhancer.enhance_image(png_bytes(rgba), model_type=MODEL, scale=2).data)
    assert out.mode == "RGBA" and out.size == (64, 48)
    got = np.asarray(out)[..., 3].astype(float)
    expected = cv2.resize(alpha, (64, 48), interpolation=cv2.INTER_LINEAR).astype(float)
    assert np.abs(got - expected).mean() < 6.0  # the gradient survives, not flattened to 255


def test_opaque_alpha_and_bicubic_alpha(models_dir: Path, small: np.ndarray) -> None:
    cheap = Enhancer(use_gpu=False, precision="fp32", tile_size=0, models_dir=models_dir,
                     auto_fetch=False, alpha_upsampler="bicubic")
    rgba = np.dstack([small, np.full((24, 32), 200, np.uint8)])
    out = _open(cheap.enhance_image(png_bytes(rgba), model_type=MODEL, scale=4).data)
    assert out.mode == "RGBA" and np.all(np.asarray(out)[..., 3] == 200)


def test_16bit_rgb_png_stays_16bit_with_its_icc(enhancer: Enhancer, small: np.ndarray) -> None:
    rgb16 = small.astype(np.uint16) * 257 + 100
    ok, encoded = cv2.imencode(".png", rgb16[..., ::-1].copy())
    assert ok
    data = encoded.tobytes()
    out = enhancer.enhance_image(data, model_type=MODEL, scale=1).data
    decoded = _cv2_decode(out)
    assert decoded.dtype == np.uint16 and decoded.shape == (24, 32, 3)
    assert psnr(decoded[..., ::-1], rgb16, peak=65535.0) > 25.0  # same picture, at scale 1
    assert np.any(decoded % 257 != 0)  # real 16-bit values, not 8-bit ones stretched


def test_16bit_gray_stays_16bit_gray(enhancer: Enhancer, small: np.ndarray) -> None:
    gray16 = (small[..., 1].astype(np.uint16) * 257).astype(np.uint16)
    data = png_bytes(Image.fromarray(gray16))
    out = enhancer.enhance_image(data, model_type=MODEL, scale=2).data
    decoded = _cv2_decode(out)
    assert decoded.dtype == np.uint16 and decoded.shape == (48, 64)


def test_png16_writer_round_trips_exactly() -> None:
    rng = np.random.default_rng(0)
    for channels in (1, 3, 4):
        arr = rng.integers(0, 65536, size=(7, 5, channels), dtype=np.uint16)
        back = _cv2_decode(_png16(arr, None))
        back = back[..., None] if back.ndim == 2 else back
        expected = arr if channels == 1 else arr[..., [2, 1, 0, 3][:channels]]
        assert np.array_equal(back, expected)


def test_gray_stays_gray(enhancer: Enhancer, small: np.ndarray) -> None:
    data = png_bytes(Image.fromarray(small).convert("L"))
    out = _open(enhancer.enhance_image(data, model_type=MODEL, scale=3).data)
    assert out.mode == "L" and out.size == (96, 72)


def test_palette_comes_back_rgb_or_rgba(enhancer: Enhancer, small: np.ndarray) -> None:
    palette = Image.fromarray(small).quantize(32)
    out = _open(enhancer.enhance_image(png_bytes(palette), model_type=MODEL, scale=2).data)
    assert out.mode == "RGB" and out.size == (64, 48)
    palette.info["transparency"] = 0
    out = _open(enhancer.enhance_image(png_bytes(palette, transparency=0),
                                       model_type=MODEL, scale=2).data)
    assert out.mode == "RGBA" and (np.asarray(out)[..., 3] < 128).any()


def test_exif_orientation_is_applied(enhancer: Enhancer, small: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    rotated_jpeg = png_bytes(Image.fromarray(small), format="JPEG", exif=exif, quality=95)
    upright = ImageOps.exif_transpose(_open(rotated_jpeg))
    out = enhancer.enhance_image(rotated_jpeg, model_type=MODEL, scale=2)
    assert (out.width, out.height) == (48, 64)
    reference = enhancer.enhance_image(upright, model_type=MODEL, scale=2)
    assert np.array_equal(np.asarray(_open(out.data)), np.asarray(_open(reference.data)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_matches_pillow(orientation: int) -> None:
    pixels = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(_open(png_bytes(image, exif=exif))))
    assert np.array_equal(orient(pixels, orientation), expected)


def test_icc_profile_is_kept(enhancer: Enhancer, small: np.ndarray) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for fmt in ("png", "jpeg", "webp"):
        data = png_bytes(Image.fromarray(small), icc_profile=icc)
        out = enhancer.enhance_image(data, model_type=MODEL, scale=1, output_format=fmt)
        assert _open(out.data).info.get("icc_profile") == icc, fmt
        assert _open(out.data).format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]


@pytest.mark.parametrize(("scale", "size"), [(1, (32, 24)), (2, (64, 48)), (3, (96, 72)),
                                             (4, (128, 96))])
def test_every_scale_for_a_x4_model(enhancer: Enhancer, small: np.ndarray, scale: int,
                                    size: tuple[int, int]) -> None:
    out = enhancer.enhance_image(png_bytes(small), model_type=MODEL, scale=scale)
    assert (out.width, out.height) == size == _open(out.data).size
    assert out.scale == scale and out.gpu_used is False


@pytest.mark.parametrize(("width", "height", "size"), [(100, 50, (100, 50)), (100, None, (100, 75)),
                                                       (None, 10, (13, 10))])
def test_output_size_rules(enhancer: Enhancer, small: np.ndarray, width: int | None,
                           height: int | None, size: tuple[int, int]) -> None:
    out = enhancer.enhance_image(png_bytes(small), model_type=MODEL, output_width=width,
                                 output_height=height)
    assert (out.width, out.height) == size == _open(out.data).size


def test_bad_input_is_refused(enhancer: Enhancer, small: np.ndarray) -> None:
    with pytest.raises(UnsupportedFormat):
        enhancer.enhance_image(b"not an image", model_type=MODEL)
    with pytest.raises(UnsupportedFormat):
        enhancer.enhance_image(png_bytes(small), model_type=MODEL, output_format="gif")
    with pytest.raises(InvalidInput, match="scale"):
        enhancer.enhance_image(png_bytes(small), model_type=MODEL, scale=5)
    with pytest.raises(InvalidInput, match="model_type"):
        enhancer.enhance_image(png_bytes(small), model_type="nope")


def test_pixel_budgets(models_dir: Path, small: np.ndarray) -> None:
    tight = Enhancer(use_gpu=False, models_dir=models_dir, auto_fetch=False,
                     max_input_pixels=32 * 24, max_output_pixels=64 * 48)
    assert tight.plan(32, 24, MODELS[MODEL], scale=2) == (64, 48)
    with pytest.raises(TooLarge):
        tight.plan(32, 24, MODELS[MODEL], scale=3)
    with pytest.raises(TooLarge):
        tight.enhance_image(png_bytes(np.zeros((25, 32, 3), np.uint8)), model_type=MODEL, scale=1)
    assert decode_image(png_bytes(small), max_pixels=32 * 24).width == 32


def test_gray_with_alpha_stays_gray_with_alpha(enhancer: Enhancer, small: np.ndarray) -> None:
    la = np.dstack([small[..., 0], np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (24, 1))])
    out = _open(enhancer.enhance_image(png_bytes(la), model_type=MODEL, scale=2).data)
    assert out.mode == "LA" and out.size == (64, 48)


def test_an_encoder_refusal_is_a_processing_error() -> None:
    # libwebp's own refusal (wider than 16383), as the job's error rather than an OSError
    # the runner would retry: the same pixels fail the same way every time.
    strip = np.zeros((1, 16384, 3), np.float32)
    with pytest.raises(ProcessingError, match="WEBP: encoding error 5"):
        encode_image(strip, None, gray=False, bit_depth=8, icc_profile=None,
                     output_format="webp")
