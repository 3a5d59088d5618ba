"""The SDK against the real service: results, downloads, and the manual's error texts."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from enhancer_client import (
    AsyncClient,
    AuthError,
    BadRequestError,
    Client,
    Image,
    JobFailedError,
    NotFoundError,
    Video,
)
from PIL import Image as PILImage

from tests.client.conftest import SERVICE_ENV, Account, register
from tests.common.media.clips import make_clip
from tests.embedded import Service, embedded_service
from tests.image_models import MISSING_MODEL
from tests.image_samples import gif, photo
from tests.ingress.video_clips import count_frames


def test_wrong_password_is_the_manuals_401(service: Service, account: Account) -> None:
    with pytest.raises(AuthError) as refused:
        Client(service.url, account.email, "not-the-password")
    assert refused.value.status == 401
    assert refused.value.message == "Credenciales inválidas"


def test_unsupported_format_is_the_manuals_400(service: Service, account: Account) -> None:
    with Client(service.url, account.email, account.password) as api, \
            pytest.raises(BadRequestError) as refused:
        api.enhance_image(gif(), filename="animada.png", model_type="anime_video")
    assert (refused.value.status, refused.value.message) == (400, "Formato no soportado: gif")


def test_a_failed_job_carries_the_workers_message(service: Service, account: Account) -> None:
    # general_x2 has no weights here and its download is refused: the worker fails the job.
    with Client(service.url, account.email, account.password) as api, \
            pytest.raises(JobFailedError) as failed:
        api.enhance_image(photo(24, 24), model_type=MISSING_MODEL)
    assert failed.value.status == 503
    assert failed.value.message.startswith(
        "Error procesando imagen: Modelo general_x2 no disponible: faltan sus pesos "
        "(RealESRGAN_x2plus.pth). Descárguelos con: ")


def test_image_round_trip(service: Service, account: Account, tmp_path: Path) -> None:
    source = tmp_path / "cafe.jpg"
    source.write_bytes(photo(40, 30, "JPEG"))
    with Client(service.url, account.email, account.password) as api:
        image = api.enhance_image(source, model_type="anime_video", scale=2,
                                  output_format="webp")
        assert isinstance(image, Image)
        assert (image.status, image.original_filename) == ("completed", "cafe.jpg")
        assert (image.enhanced_width, image.enhanced_height) == (80, 60)
        result = image.enhanced_bytes
        assert result is not None
        assert PILImage.open(io.BytesIO(result)).format == "WEBP"
        # The carried bytes and the download route agree.
        assert api.download(image.id, kind="image") == result
        saved = api.download(image, tmp_path / "out.webp")
        assert saved == tmp_path / "out.webp" and saved.read_bytes() == result
        assert api.download(image, original=True) == source.read_bytes()

        sized = api.enhance_image(photo(40, 30), model_type="anime_video", output_width=100)
        assert (sized.enhanced_width, sized.enhanced_height) == (100, 75)

        listed = api.list_images(per_page=1)
        assert (listed.total, len(listed.items)) == (2, 1)
        assert listed.items[0].id == sized.id and listed.items[0].enhanced_base64 is None
        assert api.get_image(image.id).status == "completed"
        assert api.delete(image) == "image"
        with pytest.raises(NotFoundError) as gone:
            api.get_image(image.id)
        assert gone.value.message == "Imagen no encontrada"


def test_video_progress_reaches_the_end(service: Service, account: Account,
                                        tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=24, gop=8)
    seen: list[Video] = []
    with Client(service.url, account.email, account.password, poll_interval=0.1) as api:
        video = api.submit_video(clip, model_type="anime_video", scale=2)
        assert (video.status, video.frame_count, video.frames_processed) == ("pending", 24, 0)
        # The polling path, as against a server without the event stream (which
        # test_sdk_events.py follows): the SDK is told the route is absent.
        api.events_route.available = False
        done = api.wait(video, on_progress=seen.append)
        assert api.events_route.available is False
        assert done.status == "completed" and done.frames_processed == 24
        counts = [v.frames_processed or 0 for v in seen]
        assert counts == sorted(counts) and counts[-1] == 24
        assert seen[-1].status == "completed"
        result = api.download(done, tmp_path / "clip.mkv")
        assert count_frames(Path(result).read_bytes()) == (24, 128, 96)
        assert api.delete(done.id) == "video"
        with pytest.raises(NotFoundError) as gone:
            api.get_video(done.id)
        assert gone.value.message == "Video no encontrado"


def test_async_client_runs_jobs_concurrently(service: Service, account: Account) -> None:
    async def scenario() -> list[Image]:
        # Logged in on first use: the three requests share the one login.
        async with AsyncClient(service.url, account.email, account.password) as api:
            images = await asyncio.gather(*(
                api.enhance_image(photo(24 + 8 * i, 24), model_type="anime_video", scale=2)
                for i in range(3)))
            listed = await api.list_images()
            assert {i.id for i in listed.items} == {i.id for i in images}
            return list(images)

    images = asyncio.run(scenario())
    assert [(i.enhanced_width, i.enhanced_height) for i in images] == [
        (48, 48), (64, 48), (80, 48)]


def test_a_202_answer_is_polled_to_the_result(tmp_path: Path, image_models: Path) -> None:
    # IMAGE_WAIT_SECONDS=0: the service answers 202 at once and the client must poll.
    with embedded_service(tmp_path, MODELS_DIR=str(image_models), IMAGE_WAIT_SECONDS="0",
                          **SERVICE_ENV) as later:
        account = register(later.url)
        with Client(later.url, account.email, account.password, poll_interval=0.1) as api:
            image = api.enhance_image(photo(32, 32), model_type="anime_video", scale=2)
            assert image.status == "completed" and image.enhanced_bytes is not None
            assert PILImage.open(io.BytesIO(image.enhanced_bytes)).size == (64, 64)
        # The POST really was answered 202.
        assert '"POST /api/images/enhance HTTP/1.1" 202' in later.log.read_text()
