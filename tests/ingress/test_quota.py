"""Per-user quotas: MAX_ACTIVE_JOBS_PER_USER (images and videos together) and
MAX_SUBMISSIONS_PER_MINUTE; beyond them 429 with Retry-After and nothing stored.

No worker runs here (``IMAGE_WAIT_SECONDS=0``), so every accepted job stays pending until the
test settles it the way a worker would.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from bson import ObjectId

from common.runtime import Runtime
from common.settings import Settings
from common.store.blobs import BUCKET
from tests.image_samples import b64
from tests.ingress.conftest import SignedUp, SignUp, make_settings
from tests.ingress.image_files import ENHANCE, picture
from tests.ingress.video_clips import make_clip

ACTIVE = 4
PER_MINUTE = 8


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0, max_active_jobs_per_user=ACTIVE,
                         max_submissions_per_minute=PER_MINUTE)


async def _image(client: httpx.AsyncClient, user: SignedUp) -> httpx.Response:
    return await client.post(ENHANCE, headers=user.headers,
                             files={"file": ("a.png", picture(16, 12), "image/png")})


async def _video(client: httpx.AsyncClient, user: SignedUp) -> httpx.Response:
    body = {"video_base64": b64(make_clip(frames=4)), "filename": "v.mp4"}
    return await client.post("/api/videos/enhance", headers=user.headers, json=body)


async def _stored(runtime: Runtime) -> tuple[int, int]:
    """Jobs and blobs in the database."""
    store = runtime.store
    jobs = await store.images.count_documents({}) + await store.videos.count_documents({})
    return jobs, await store.db[f"{BUCKET}.files"].count_documents({})


def _refused(answer: httpx.Response, fragment: str) -> None:
    assert answer.status_code == 429, answer.text
    assert set(answer.json()) == {"error"} and fragment in answer.json()["error"]
    assert int(answer.headers["Retry-After"]) >= 1


async def test_a_burst_of_submissions_admits_exactly_the_active_limit(
    client: httpx.AsyncClient, runtime: Runtime, user: SignedUp, sign_up: SignUp
) -> None:
    answers = await asyncio.gather(*(_image(client, user) for _ in range(40)))
    assert Counter(a.status_code for a in answers) == {202: ACTIVE, 429: 40 - ACTIVE}
    _refused(next(a for a in answers if a.status_code == 429), "trabajos en curso")
    # Nothing of the refused ones is stored: one document and one original per admitted job.
    assert await _stored(runtime) == (ACTIVE, ACTIVE)
    # Videos share the allowance; other users have their own.
    _refused(await _video(client, user), "trabajos en curso")
    other = await sign_up()
    assert (await _video(client, other)).status_code == 202


async def test_finished_and_deleted_jobs_free_their_slots(
    client: httpx.AsyncClient, runtime: Runtime, user: SignedUp
) -> None:
    ids = []
    for submit in (_image, _video, _image, _video):
        answer = await submit(client, user)
        assert answer.status_code == 202, answer.text
        ids.append(next(iter(v for k, v in answer.json().items() if k != "message"))["id"])
    _refused(await _image(client, user), "trabajos en curso")
    # A worker finishes the first image and fails the first video: two slots come back.
    await _settle(runtime.store.images, ids[0], "completed")
    await _settle(runtime.store.videos, ids[1], "error")
    assert (await _image(client, user)).status_code == 202
    assert (await _video(client, user)).status_code == 202
    _refused(await _image(client, user), "trabajos en curso")
    # Deleting a pending job frees its slot at once.
    assert (await client.delete(f"/api/images/{ids[2]}", headers=user.headers)).status_code == 200
    assert (await _image(client, user)).status_code == 202


async def _settle(jobs: Any, job_id: str, status: str) -> None:
    await jobs.update_one({"_id": ObjectId(job_id)}, {"$set": {"status": status}})


async def test_the_submission_rate_is_limited_per_minute(
    client: httpx.AsyncClient, runtime: Runtime, user: SignedUp
) -> None:
    for n in range(PER_MINUTE):
        answer = await _image(client, user)
        assert answer.status_code == 202, answer.text
        # Settled at once, so the active limit stays out of the way.
        await _settle(runtime.store.images, answer.json()["image"]["id"],
                      ("completed", "failed")[n % 2])
    refused = await _image(client, user)
    _refused(refused, "por minuto")
    assert int(refused.headers["Retry-After"]) <= 61
    assert await _stored(runtime) == (PER_MINUTE, PER_MINUTE)
