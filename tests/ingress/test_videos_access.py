"""GET / list / DELETE / downloads of videos: views, ETA, paging, ownership, cancellation."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from common.runtime import Runtime
from common.store.ids import utcnow
from tests.ingress.conftest import SignedUp, SignUp, assert_download_headers
from tests.ingress.video_clips import count_frames, make_clip

BASE64_FIELDS = {"original_base64", "enhanced_base64"}


@pytest.fixture(scope="module")
def clip() -> bytes:
    return make_clip(frames=24, audio=True)


@pytest.fixture(scope="module")
def enhanced_mkv() -> bytes:
    # Stands in for the encode stage's output (the end-to-end test makes a real one).
    return make_clip(frames=24, width=128, height=96, fmt="matroska")


async def submit(client: httpx.AsyncClient, who: SignedUp, clip: bytes, name: str) -> str:
    response = await client.post(
        "/api/videos/enhance",
        headers=who.headers,
        json={"video_base64": base64.b64encode(clip).decode(), "filename": name, "scale": 2},
    )
    assert response.status_code == 202, response.text
    video_id: str = response.json()["video"]["id"]
    return video_id


async def complete(runtime: Runtime, video_id: str, mkv: bytes) -> None:
    """Move the document to ``completed`` the way the encode stage does."""
    blob = await runtime.store.blobs.put(
        mkv,
        filename=f"{video_id}.mkv",
        content_type="video/x-matroska",
        metadata={"video_id": ObjectId(video_id), "kind": "enhanced"},
    )
    now = utcnow()
    await runtime.store.videos.update_one(
        {"_id": ObjectId(video_id)},
        {
            "$set": {
                "status": "completed",
                "frames_processed": 24,
                "enhanced_blob": blob,
                "enhanced_width": 128,
                "enhanced_height": 96,
                "processing_time_ms": 1234,
                "gpu_used": False,
                "started_at": now - timedelta(seconds=2),
                "completed_at": now,
            }
        },
    )


async def test_get_shows_the_manuals_fields_and_base64_only_once_completed(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes, enhanced_mkv: bytes
) -> None:
    video_id = await submit(client, user, clip, "fiesta.mp4")
    pending = (await client.get(f"/api/videos/{video_id}", headers=user.headers)).json()["video"]
    assert pending["id"] == video_id and pending["status"] == "pending"
    assert (pending["frame_count"], pending["frames_processed"]) == (24, 0)
    assert pending["original_base64"] is None and pending["enhanced_base64"] is None
    assert pending["enhanced_width"] is None and pending["completed_at"] is None
    assert pending["processing_fps"] is None and pending["eta_seconds"] is None
    assert pending["fps"] == 29.97 and pending["frame_rate"] == "30000/1001"

    await complete(runtime, video_id, enhanced_mkv)
    response = await client.get(f"/api/videos/{video_id}", headers=user.headers)
    done = response.json()["video"]
    assert done["status"] == "completed"
    assert (done["enhanced_width"], done["enhanced_height"]) == (128, 96)
    assert (done["processing_time_ms"], done["gpu_used"]) == (1234, False)
    assert base64.b64decode(done["original_base64"]) == clip
    assert base64.b64decode(done["enhanced_base64"]) == enhanced_mkv
    assert len(done["completed_at"]) == len("2024-12-03T10:35:05")

    assert done["dropped_streams"] == []

    light = await client.get(
        f"/api/videos/{video_id}", headers=user.headers, params={"include_base64": "false"}
    )
    assert light.status_code == 200
    assert not BASE64_FIELDS & light.json()["video"].keys()
    assert light.json()["video"]["status"] == "completed"
    # Streams the result could not carry are noted on the job (the encode stage writes them).
    await runtime.store.videos.update_one(
        {"_id": ObjectId(video_id)}, {"$set": {"dropped_streams": ["subtitle#1 (codec unknown)"]}})
    noted = await client.get(f"/api/videos/{video_id}", headers=user.headers)
    assert noted.json()["video"]["dropped_streams"] == ["subtitle#1 (codec unknown)"]


async def test_a_running_job_shows_its_throughput_and_eta(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes
) -> None:
    video_id = await submit(client, user, clip, "largo.mp4")
    await runtime.store.videos.update_one(
        {"_id": ObjectId(video_id)},
        {
            "$set": {
                "status": "in_progress",
                "frames_processed": 12,
                "started_at": utcnow() - timedelta(seconds=8),
            }
        },
    )
    video = (await client.get(f"/api/videos/{video_id}", headers=user.headers)).json()["video"]
    assert video["status"] == "in_progress"
    assert video["frames_processed"] == 12
    # 12 frames in ~8 s: 1.5 frames/s, 12 frames left → ~8 s.
    assert video["processing_fps"] == pytest.approx(1.5, abs=0.1)
    assert video["eta_seconds"] == pytest.approx(8.0, abs=0.6)
    assert video["original_base64"] is None and video["enhanced_base64"] is None


async def test_list_pages_newest_first_filters_by_status_and_omits_base64(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes, enhanced_mkv: bytes
) -> None:
    ids = [await submit(client, user, clip, f"v{i}.mp4") for i in range(3)]
    await complete(runtime, ids[1], enhanced_mkv)

    first = (await client.get("/api/videos?page=1&per_page=2", headers=user.headers)).json()
    second = (await client.get("/api/videos?page=2&per_page=2", headers=user.headers)).json()
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert [v["id"] for v in first["videos"] + second["videos"]] == ids[::-1]
    assert all(not BASE64_FIELDS & v.keys() for v in first["videos"] + second["videos"])

    defaults = (await client.get("/api/videos", headers=user.headers)).json()
    assert (defaults["page"], defaults["per_page"], len(defaults["videos"])) == (1, 10, 3)

    done = (await client.get("/api/videos?status=completed", headers=user.headers)).json()
    assert done["total"] == 1 and [v["id"] for v in done["videos"]] == [ids[1]]
    pending = (await client.get("/api/videos?status=pending", headers=user.headers)).json()
    assert pending["total"] == 2
    errors = (await client.get("/api/videos?status=error", headers=user.headers)).json()
    assert errors == {"total": 0, "page": 1, "per_page": 10, "videos": []}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=failed", "'status'"),
        ("status=processing", "'status'"),
        ("page=0", "'page'"),
        ("per_page=101", "'per_page'"),
        ("per_page=0", "'per_page'"),
        ("page=uno", "'page'"),
    ],
)
async def test_list_refuses_bad_query_values_naming_the_field(
    client: httpx.AsyncClient, user: SignedUp, query: str, field: str
) -> None:
    response = await client.get(f"/api/videos?{query}", headers=user.headers)
    assert response.status_code == 400
    assert field in response.json()["error"]


async def test_another_users_video_is_a_404_everywhere(
    client: httpx.AsyncClient,
    user: SignedUp,
    sign_up: SignUp,
    runtime: Runtime,
    clip: bytes,
    enhanced_mkv: bytes,
) -> None:
    video_id = await submit(client, user, clip, "privado.mp4")
    await complete(runtime, video_id, enhanced_mkv)
    other = await sign_up()
    for path in ("", "/original", "/enhanced"):
        response = await client.get(f"/api/videos/{video_id}{path}", headers=other.headers)
        assert response.status_code == 404, path
        assert response.json() == {"error": "Video no encontrado"}
    deleted = await client.delete(f"/api/videos/{video_id}", headers=other.headers)
    assert deleted.status_code == 404
    listing = (await client.get("/api/videos", headers=other.headers)).json()
    assert listing["total"] == 0 and listing["videos"] == []
    # Still there for its owner.
    assert (await client.get(f"/api/videos/{video_id}", headers=user.headers)).status_code == 200


@pytest.mark.parametrize("bad_id", ["123", "zzzzzzzzzzzzzzzzzzzzzzzz", str(ObjectId())])
async def test_malformed_or_unknown_ids_are_a_404(
    client: httpx.AsyncClient, user: SignedUp, bad_id: str
) -> None:
    for path in ("", "/original", "/enhanced"):
        response = await client.get(f"/api/videos/{bad_id}{path}", headers=user.headers)
        assert response.status_code == 404 and response.json() == {"error": "Video no encontrado"}
    assert (await client.delete(f"/api/videos/{bad_id}", headers=user.headers)).status_code == 404


async def test_downloads_stream_the_original_and_the_enhanced_mkv(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes, enhanced_mkv: bytes
) -> None:
    video_id = await submit(client, user, clip, "cumpleaños.mp4")
    early = await client.get(f"/api/videos/{video_id}/enhanced", headers=user.headers)
    assert early.status_code == 409 and "pending" in early.json()["error"]

    original = await client.get(f"/api/videos/{video_id}/original", headers=user.headers)
    assert original.status_code == 200
    assert original.content == clip
    assert original.headers["content-type"] == "video/mp4"
    assert original.headers["content-length"] == str(len(clip))
    assert "filename*=UTF-8''cumplea%C3%B1os.mp4" in original.headers["content-disposition"]

    await complete(runtime, video_id, enhanced_mkv)
    enhanced = await client.get(f"/api/videos/{video_id}/enhanced", headers=user.headers)
    assert enhanced.status_code == 200
    assert enhanced.headers["content-type"] == "video/x-matroska"
    assert "cumplea%C3%B1os_mejorado.mkv" in enhanced.headers["content-disposition"]
    assert enhanced.content == enhanced_mkv
    assert count_frames(enhanced.content) == (24, 128, 96)
    for download in (original, enhanced):
        assert_download_headers(download.headers)


async def test_delete_removes_the_document_its_blobs_and_chunk_records(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes
) -> None:
    video_id = await submit(client, user, clip, "borrar.mp4")
    keep_id = await submit(client, user, clip, "conservar.mp4")
    store = runtime.store
    # What a running job has stored by now: a chunk blob, an upscaled one, chunk records.
    for kind in ("chunk", "upscaled"):
        await store.blobs.put(
            b"x" * 10, filename=kind, metadata={"video_id": ObjectId(video_id), "kind": kind}
        )
    await store.chunks.insert_many(
        [{"video_id": ObjectId(video_id), "index": 0}, {"video_id": ObjectId(video_id), "index": 1}]
    )
    await store.videos.update_one({"_id": ObjectId(video_id)}, {"$set": {"status": "in_progress"}})

    response = await client.delete(f"/api/videos/{video_id}", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == {"message": "Video eliminado exitosamente"}

    assert await store.videos.find_one({"_id": ObjectId(video_id)}) is None
    files = store.db["blobs.files"]
    assert await files.count_documents({"metadata.video_id": ObjectId(video_id)}) == 0
    assert await store.chunks.count_documents({}) == 0
    assert (await client.get(f"/api/videos/{video_id}", headers=user.headers)).status_code == 404
    assert (await client.delete(f"/api/videos/{video_id}", headers=user.headers)).status_code == 404
    # The other video and its original are untouched.
    assert await files.count_documents({"metadata.video_id": ObjectId(keep_id)}) == 1
    listing: dict[str, Any] = (await client.get("/api/videos", headers=user.headers)).json()
    assert [v["id"] for v in listing["videos"]] == [keep_id]
