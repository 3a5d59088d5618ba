"""What the blocking and the async client share: their state and every public operation.

Each operation below is a plan (see ``steps.py``); ``Client`` and ``AsyncClient`` expose it
as a method of the same name and signature through ``blocking``/``asynchronous``, so the
API is defined, typed and documented once.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, Literal, ParamSpec, TypeVar

import httpx

from enhancer_client import auth, plans
from enhancer_client.auth import Session, TokenStore
from enhancer_client.plans import EventsRoute, Kind, ProgressCallback
from enhancer_client.steps import Plan, Source, Upload
from enhancer_client.types import Image, Model, Page, Tokens, User, Video

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from enhancer_client.aio import AsyncClient
    from enhancer_client.sync import Client

P = ParamSpec("P")
T = TypeVar("T")
OutputFormat = Literal["png", "jpeg", "webp"]
# Connecting is quick or hopeless; an image enhance may wait for the service's own limit
# (IMAGE_WAIT_SECONDS, 120 s by default) before its answer starts.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, read=600.0)


class Core:
    """State shared by both clients (no I/O here)."""

    def __init__(self, base_url: str, email: str | None, password: str | None, *,
                 tokens: Tokens | None, token_store: TokenStore | None,
                 on_tokens: Callable[[Tokens], None] | None, poll_interval: float,
                 reconnect_for: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = Session(tokens, email=email, password=password, store=token_store,
                               on_tokens=on_tokens)
        self.poll_interval = poll_interval
        self.reconnect_for = reconnect_for
        self.events_route = EventsRoute()

    @property
    def tokens(self) -> Tokens | None:
        """The current pair (it changes whenever a refresh rotates it)."""
        return self.session.tokens


def _job_id(job: Image | Video | str) -> str:
    return job if isinstance(job, str) else job.id


def _kind_of(job: Image | Video | str, kind: Kind | None) -> Kind | None:
    if isinstance(job, Image):
        return "image"
    if isinstance(job, Video):
        return "video"
    return kind


def login(core: Core, email: str, password: str) -> Plan[Tokens]:
    """Log in (``POST /api/auth/login``) and use the new session from now on."""
    tokens = yield from auth.login(email, password)
    core.session.adopt(tokens, persist=True)
    return tokens


def logout(core: Core) -> Plan[None]:
    """End this session on the server (its refresh and access tokens stop working)."""
    if core.session.tokens is not None:
        yield from plans.logout(core.session.tokens.refresh_token)
    core.session.tokens = None


def me(core: Core) -> Plan[User]:
    """The logged-in user (``GET /api/auth/me``)."""
    return (yield from plans.me())


def models(core: Core) -> Plan[list[Model]]:
    """The models the service offers (``GET /api/models``; no login needed)."""
    return (yield from plans.models())


def enhance_image(core: Core, image: Source, *, filename: str | None = None,
                  model_type: str | None = None, scale: int | None = None,
                  output_width: int | None = None, output_height: int | None = None,
                  face_enhance: bool | None = None, output_format: OutputFormat | None = None,
                  timeout: float | None = None) -> Plan[Image]:
    """Enhance one image (a path or its bytes) and return it completed, result included
    (``enhanced_bytes``). Uploads as multipart; when the service answers 202 instead of 201
    (its wait ran out) this polls until the image is done, for at most ``timeout`` seconds.
    Raises ``JobFailedError`` if the worker failed, ``BadRequestError`` for refused input."""
    upload = Upload.of("file", image, filename, "image")
    fields = plans.form_fields(filename=filename, model_type=model_type, scale=scale,
                               output_width=output_width, output_height=output_height,
                               face_enhance=face_enhance, output_format=output_format)
    return (yield from plans.enhance_image(upload, fields, core.poll_interval, timeout))


def get_image(core: Core, image_id: str, *, include_base64: bool = False) -> Plan[Image]:
    """``GET /api/images/{id}``."""
    image: Image = yield from plans.get("image", image_id, include_base64)
    return image


def list_images(core: Core, *, page: int = 1, per_page: int = 10,
                status: str | None = None) -> Plan[Page[Image]]:
    """One page of the user's images, newest first (``status``: pending, processing,
    completed, failed)."""
    return (yield from plans.listing("image", page, per_page, status))


def submit_video(core: Core, video: Source, *, filename: str | None = None,
                 model_type: str | None = None, scale: int | None = None,
                 face_enhance: bool | None = None,
                 skip_similar: bool | float | None = None) -> Plan[Video]:
    """Upload a video (a path or its bytes, which need ``filename`` with its extension) for
    enhancement; returns it ``pending`` at once. Follow it with ``wait``. ``skip_similar``:
    reuse the output for near-repeated frames (``True``: the server's default threshold, or
    a PSNR in dB); exact repeats are always reused."""
    if isinstance(video, bytes) and not filename:
        raise ValueError("filename (with the video's extension) is required for bytes")
    upload = Upload.of("file", video, filename, "video")
    fields = plans.form_fields(filename=filename, model_type=model_type, scale=scale,
                               face_enhance=face_enhance, skip_similar=skip_similar)
    return (yield from plans.submit_video(upload, fields))


def get_video(core: Core, video_id: str) -> Plan[Video]:
    """``GET /api/videos/{id}`` without the base64 payloads."""
    video: Video = yield from plans.get("video", video_id)
    return video


def list_videos(core: Core, *, page: int = 1, per_page: int = 10,
                status: str | None = None) -> Plan[Page[Video]]:
    """One page of the user's videos, newest first (``status``: pending, in_progress,
    completed, error)."""
    return (yield from plans.listing("video", page, per_page, status))


def wait(core: Core, video: Video | str, *, on_progress: ProgressCallback | None = None,
         timeout: float | None = None, poll_interval: float | None = None) -> Plan[Video]:
    """Wait until a video is done and return it completed; ``on_progress(video)`` is called
    whenever its status or progress (``frames_processed``/``frame_count``,
    ``processing_fps``, ``eta_seconds``) changes. Uses the server's event stream
    (``GET /api/videos/{id}/events``) when it has one, else polls. Network failures are
    retried for ``reconnect_for`` seconds of continuous outage. Raises ``JobFailedError``
    when the video ends in ``error``, ``WaitTimeout`` after ``timeout`` seconds."""
    return (yield from plans.wait_video(_job_id(video), core.events_route, on_progress,
                                        poll_interval or core.poll_interval, timeout,
                                        core.reconnect_for))


def download(core: Core, job: Image | Video | str, dest: str | Path | None = None, *,
             original: bool = False, kind: Kind | None = None) -> Plan[bytes | Path]:
    """A job's result (or its ``original`` upload): written to ``dest`` (atomically; returns
    the path) or returned as bytes. A plain id needs ``kind`` ("image" or "video")."""
    which = _kind_of(job, kind)
    if which is None:
        raise ValueError("kind='image' or kind='video' is needed with a plain id")
    carried = getattr(job, "original_base64" if original else "enhanced_base64", None)
    if carried:  # the answer already holds the bytes: no second transfer
        data = base64.b64decode(carried)
        if dest is None:
            return data
        path = Path(dest)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)
        return path
    return (yield from plans.download(which, _job_id(job), None if dest is None else Path(dest),
                                      original))


def delete(core: Core, job: Image | Video | str, *, kind: Kind | None = None) -> Plan[Kind]:
    """Delete an image or video (a running video is cancelled). With a plain id and no
    ``kind``, whichever it is; returns the kind deleted. ``NotFoundError`` if neither."""
    return (yield from plans.delete(_kind_of(job, kind), _job_id(job)))


def blocking(op: Callable[Concatenate[Core, P], Plan[T]]) -> Callable[Concatenate[Client, P], T]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(op(self, *args, **kwargs))

    functools.update_wrapper(method, op)
    return method


def asynchronous(
    op: Callable[Concatenate[Core, P], Plan[T]],
) -> Callable[Concatenate[AsyncClient, P], Awaitable[T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(op(self, *args, **kwargs))

    functools.update_wrapper(method, op)
    return method
