"""The end of a job reaches its event stream with the job's finished notice, not at the next
poll: with a 10 s poll interval, a completed video's last event still arrives within seconds
(the encode stage announces it as it does here, on the same in-process bus)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from bson import ObjectId

from common.jobs.notices import announce_finished
from common.runtime import Runtime
from common.settings import Settings
from common.store.ids import utcnow
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.test_events import Event, move, new_video, read_events, served, until

__all__ = ["served"]  # the fixture, used by name

POLL = 10.0  # the longest interval the settings allow


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0, events_poll_seconds=POLL)


async def test_a_finished_notice_ends_the_stream_before_the_next_poll(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime,
        served: tuple[str, Any]) -> None:
    url, _ = served
    video_id = await new_video(client, user)
    events: list[Event] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http, http.stream(
            "GET", f"/api/videos/{video_id}/events", headers=user.headers) as response:
        assert response.status_code == 200
        reader = asyncio.create_task(read_events(response, events))
        await until(events, 1)  # the first poll, as the stream opened
        await move(runtime, video_id, status="completed", completed_at=utcnow(),
                   enhanced_width=128, enhanced_height=96)
        started = time.monotonic()
        await announce_finished(runtime.bus, "video", ObjectId(video_id))
        await asyncio.wait_for(reader, POLL)
        took = time.monotonic() - started
    assert [e[0] for e in events] == ["progress", "completed"]
    assert took < POLL / 4, f"the completed event came {took:.1f} s after the notice"
