"""Every API operation, written once as a plan of steps (see ``steps.py``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from enhancer_client.errors import (
    IMAGE_FAILED_PREFIX,
    ConnectionFailed,
    JobFailedError,
    NotFoundError,
    ServerError,
    WaitTimeout,
)
from enhancer_client.sse import SseParser
from enhancer_client.steps import Close, Open, Plan, Read, Send, Sleep, Upload
from enhancer_client.types import Image, Model, Page, User, Video

Kind = Literal["image", "video"]
ProgressCallback = Callable[[Video], None]
_ROOT = {"image": "/api/images", "video": "/api/videos"}
_CLASS: dict[str, type[Image] | type[Video]] = {"image": Image, "video": Video}
# An event stream may be silent for long stretches; past this a reconnect costs little.
EVENTS_TIMEOUT = httpx.Timeout(30.0, read=60.0)


def form_fields(**values: Any) -> dict[str, str]:
    """The options as multipart form fields (None left out; booleans as the API reads them)."""
    fields: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        fields[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return fields


def me() -> Plan[User]:
    response = yield Send("GET", "/api/auth/me")
    return User.from_api(response.json()["user"])


def logout(refresh_token: str) -> Plan[None]:
    yield Send("POST", "/api/auth/logout", json={"refresh_token": refresh_token})


def models() -> Plan[list[Model]]:
    response = yield Send("GET", "/api/models", auth=False)
    return [Model.from_api(m) for m in response.json()["models"]]


def get(kind: Kind, job_id: str, include_base64: bool = False) -> Plan[Any]:
    response = yield Send("GET", f"{_ROOT[kind]}/{job_id}",
                          params={"include_base64": str(include_base64).lower()})
    return _CLASS[kind].from_api(response.json()[kind])


def listing(kind: Kind, page: int, per_page: int, status: str | None) -> Plan[Page[Any]]:
    params: dict[str, Any] = {"page": page, "per_page": per_page}
    if status:
        params["status"] = status
    body = (yield Send("GET", _ROOT[kind], params=params)).json()
    items = [_CLASS[kind].from_api(item) for item in body[f"{kind}s"]]
    return Page(total=body["total"], page=body["page"], per_page=body["per_page"], items=items)


def delete(kind: Kind | None, job_id: str) -> Plan[Kind]:
    """Delete an image or a video; with no ``kind``, whichever this id is. Returns the kind."""
    kinds: tuple[Kind, ...] = (kind,) if kind else ("video", "image")
    for i, candidate in enumerate(kinds):
        try:
            yield Send("DELETE", f"{_ROOT[candidate]}/{job_id}")
            return candidate
        except NotFoundError:
            if i == len(kinds) - 1:
                raise
    raise AssertionError("unreachable")


def enhance_image(upload: Upload, fields: dict[str, str], poll_interval: float,
                  timeout: float | None) -> Plan[Image]:
    """``POST /api/images/enhance`` (multipart); a 202 (the service's wait ran out) is polled
    until the image is done, then read with its result like a 201 would have carried it."""
    try:
        response = yield Send("POST", "/api/images/enhance", form=fields, upload=upload)
    except ServerError as exc:
        if exc.message.startswith(IMAGE_FAILED_PREFIX):
            raise JobFailedError(exc.message, status=exc.status) from exc
        raise
    image = Image.from_api(response.json()["image"])
    if response.status_code == 201:
        return image
    deadline = None if timeout is None else time.monotonic() + timeout
    while not image.done:
        if deadline is not None and time.monotonic() > deadline:
            raise WaitTimeout(f"image {image.id} still {image.status} after {timeout} s")
        yield Sleep(poll_interval)
        image = yield from get("image", image.id)
    if image.status == "failed":
        raise JobFailedError(image.error_message or image.status, job=image)
    result: Image = yield from get("image", image.id, include_base64=True)
    return result


def submit_video(upload: Upload, fields: dict[str, str]) -> Plan[Video]:
    response = yield Send("POST", "/api/videos/enhance", form=fields, upload=upload)
    return Video.from_api(response.json()["video"])


@dataclass
class EventsRoute:
    """Whether the server has ``GET /api/videos/{id}/events`` (None: not asked yet)."""

    available: bool | None = None


def wait_video(video_id: str, route: EventsRoute, on_progress: ProgressCallback | None,
               poll_interval: float, timeout: float | None,
               reconnect_for: float) -> Plan[Video]:
    """Follow a video until it ends: its event stream when the server has one, else polling.

    A broken connection is retried for up to ``reconnect_for`` seconds of continuous outage
    (the stream resumes with ``Last-Event-ID``). Returns the completed video; raises
    ``JobFailedError`` when it ends in ``error``.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    tracker = _Tracker(on_progress)
    outage_started: float | None = None
    last_event_id: str | None = None
    while tracker.video is None or not tracker.video.done:
        if deadline is not None and time.monotonic() > deadline:
            raise WaitTimeout(f"video {video_id} not finished after {timeout} s")
        try:
            if route.available is False:
                tracker.report((yield from get("video", video_id)))
                outage_started = None
                if not tracker.done:
                    yield Sleep(poll_interval)
                continue
            try:
                handle = yield Open(_events_request(video_id, last_event_id))
            except NotFoundError:
                if route.available:  # the route exists, so the video is gone
                    raise
                route.available = False
                continue
            route.available, outage_started = True, None
            last_event_id = yield from _follow(handle, video_id, tracker, last_event_id)
            yield Close(handle)
            if not tracker.done:  # the stream ended early: reconnect, without hammering
                yield Sleep(poll_interval)
        except ConnectionFailed:
            now = time.monotonic()
            outage_started = outage_started or now
            if now - outage_started >= reconnect_for:
                raise
            yield Sleep(min(poll_interval * 2, 5.0))
    final = tracker.video
    if route.available:  # events carry only the progress fields: read the whole object
        final = yield from get("video", video_id)
        tracker.report(final)
    if final.status == "error":
        raise JobFailedError(final.error_message or "error", job=final)
    return final


def _events_request(video_id: str, last_event_id: str | None) -> Send:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return Send("GET", f"/api/videos/{video_id}/events", headers=headers,
                timeout=EVENTS_TIMEOUT)


def _follow(handle: Any, video_id: str, tracker: _Tracker,
            last_event_id: str | None) -> Plan[str | None]:
    """Read events until the job's last one or the end of the stream; the last event id."""
    parser = SseParser()
    parser.last_id = last_event_id
    while (line := (yield Read(handle, "lines"))) is not None:
        event = parser.feed(line)
        if event is None:
            continue
        fields = _event_fields(event.data)
        if fields is not None:
            base = tracker.video or Video.from_api({"id": video_id, "status": "pending"})
            tracker.report(base.updated(fields))
        if event.event in ("completed", "error") or tracker.done:
            break
    return parser.last_id


def _event_fields(data: str) -> dict[str, Any] | None:
    try:
        fields = json.loads(data)
    except ValueError:
        return None
    if isinstance(fields, dict) and isinstance(fields.get("video"), dict):
        fields = fields["video"]
    return fields if isinstance(fields, dict) else None


class _Tracker:
    """The latest state of a job, reported to the callback whenever it changes."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.video: Video | None = None
        self._on_progress = on_progress

    @property
    def done(self) -> bool:
        return self.video is not None and self.video.done

    def report(self, video: Video) -> None:
        changed = self.video is None or video.raw != self.video.raw
        self.video = video
        if changed and self._on_progress is not None:
            self._on_progress(video)


def download(kind: Kind, job_id: str, dest: Path | None, original: bool) -> Plan[bytes | Path]:
    """The result (or the original) streamed into ``dest`` (atomically), or as bytes."""
    path = f"{_ROOT[kind]}/{job_id}/{'original' if original else 'enhanced'}"
    handle = yield Open(Send("GET", path))
    if dest is None:
        parts: list[bytes] = []
        while (chunk := (yield Read(handle, "bytes"))) is not None:
            parts.append(chunk)
        return b"".join(parts)
    partial = dest.with_name(dest.name + ".part")
    try:
        with partial.open("wb") as out:
            while (chunk := (yield Read(handle, "bytes"))) is not None:
                out.write(chunk)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest
