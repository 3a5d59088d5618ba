"""GET / list / DELETE / downloads of images: views, paging, ownership, removal of blobs.

No worker runs: submitted images stay ``pending`` (``IMAGE_WAIT_SECONDS=0``) until a test
completes or fails them the way the worker would (``image_files.complete`` / ``fail``).
"""

from __future__ import annotations

import httpx
import pytest
from bson import ObjectId

from common.runtime import Runtime
from common.settings import Settings
from ingress.images.documents import BASE64_FIELDS, FIELDS
from tests.image_samples import b64
from tests.ingress.conftest import SignedUp, SignUp, assert_download_headers, make_settings
from tests.ingress.image_files import NOT_FOUND, complete, fail, picture, submitted_id

SUMMARY_FIELDS = tuple(name for name in FIELDS if name not in BASE64_FIELDS)


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0)


async def test_get_shows_the_original_at_once_and_the_result_once_completed(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    raw = picture(40, 20)
    image_id = await submitted_id(client, user, raw, filename="gato.png", scale=2)
    pending = await client.get(f"/api/images/{image_id}", headers=user.headers)
    assert pending.status_code == 200
    view = pending.json()["image"]
    assert tuple(view) == FIELDS
    assert (view["id"], view["status"]) == (image_id, "pending")
    assert (view["original_base64"], view["enhanced_base64"]) == (b64(raw), None)

    bare = await client.get(f"/api/images/{image_id}?include_base64=false", headers=user.headers)
    assert tuple(bare.json()["image"]) == SUMMARY_FIELDS

    early = await client.get(f"/api/images/{image_id}/enhanced", headers=user.headers)
    assert (early.status_code, early.json()) == (
        409,
        {"error": "La imagen mejorada aún no está disponible (estado: pending)"},
    )

    result = picture(80, 40)
    await complete(runtime, image_id, result)
    done = (await client.get(f"/api/images/{image_id}", headers=user.headers)).json()["image"]
    assert done["status"] == "completed"
    assert (done["enhanced_width"], done["enhanced_height"]) == (80, 40)
    assert (done["processing_time_ms"], done["gpu_used"]) == (1234, False)
    assert (done["original_base64"], done["enhanced_base64"]) == (b64(raw), b64(result))
    assert len(done["completed_at"]) == 19

    enhanced = await client.get(f"/api/images/{image_id}/enhanced", headers=user.headers)
    assert enhanced.status_code == 200
    assert enhanced.content == result
    assert enhanced.headers["content-type"] == "image/png"
    assert 'filename="gato_mejorado.png"' in enhanced.headers["content-disposition"]


async def test_downloads_carry_the_right_type_and_name(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    raw = picture(30, 30, "JPEG")
    image_id = await submitted_id(client, user, raw, filename="año nuevo.jpg", output_format="webp")
    original = await client.get(f"/api/images/{image_id}/original", headers=user.headers)
    assert original.status_code == 200
    assert original.content == raw
    assert original.headers["content-type"] == "image/jpeg"
    assert original.headers["content-length"] == str(len(raw))
    assert "filename*=UTF-8''a%C3%B1o%20nuevo.jpg" in original.headers["content-disposition"]

    await complete(runtime, image_id, picture(60, 60, "WEBP"))
    enhanced = await client.get(f"/api/images/{image_id}/enhanced", headers=user.headers)
    assert enhanced.headers["content-type"] == "image/webp"
    assert "a%C3%B1o%20nuevo_mejorado.webp" in enhanced.headers["content-disposition"]
    # A user's upload served back must never be sniffed into, or rendered as, something else.
    for download in (original, enhanced):
        assert_download_headers(download.headers)


async def test_control_characters_in_a_filename_never_reach_a_header(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    """A CR/LF in the client's filename could split the download's Content-Disposition into
    a second header: the name is stored without control characters, and the header carries
    the exact UTF-8 name as RFC 6266 ``filename*``."""
    raw = picture(10, 10)
    image_id = await submitted_id(client, user, raw, filename="año\r\nX-Evil: 1\t.png")
    view = (await client.get(f"/api/images/{image_id}", headers=user.headers)).json()["image"]
    assert view["original_filename"] == "añoX-Evil: 1.png"
    stored = await runtime.store.images.find_one({"_id": ObjectId(image_id)})
    assert stored is not None and stored["original_filename"] == "añoX-Evil: 1.png"
    original = await client.get(f"/api/images/{image_id}/original", headers=user.headers)
    header = original.headers["content-disposition"]
    assert "x-evil" not in original.headers
    assert header == ("attachment; filename=\"a_oX-Evil: 1.png\"; "
                      "filename*=UTF-8''a%C3%B1oX-Evil%3A%201.png")


async def test_a_failed_image_shows_its_error(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    image_id = await submitted_id(client, user, picture(8, 8))
    await fail(runtime, image_id, "CUDA out of memory")
    view = (await client.get(f"/api/images/{image_id}", headers=user.headers)).json()["image"]
    assert view["status"] == "failed"
    assert view["error_message"] == "Error procesando imagen: CUDA out of memory"
    assert view["enhanced_base64"] is None
    enhanced = await client.get(f"/api/images/{image_id}/enhanced", headers=user.headers)
    assert enhanced.status_code == 409


async def test_list_pages_newest_first_filters_and_omits_base64(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    ids = [await submitted_id(client, user, picture(8, 8), filename=f"{n}.png") for n in range(5)]
    await complete(runtime, ids[1], picture(16, 16))
    await complete(runtime, ids[3], picture(16, 16))
    await fail(runtime, ids[4], "x")

    first = (await client.get("/api/images?per_page=2", headers=user.headers)).json()
    assert (first["total"], first["page"], first["per_page"]) == (5, 1, 2)
    assert [i["id"] for i in first["images"]] == [ids[4], ids[3]]
    assert all(tuple(i) == SUMMARY_FIELDS for i in first["images"])
    last = (await client.get("/api/images?per_page=2&page=3", headers=user.headers)).json()
    assert [i["id"] for i in last["images"]] == [ids[0]]
    beyond = (await client.get("/api/images?page=9", headers=user.headers)).json()
    assert (beyond["total"], beyond["images"]) == (5, [])
    default = (await client.get("/api/images", headers=user.headers)).json()
    assert (default["page"], default["per_page"], len(default["images"])) == (1, 10, 5)

    for status, expected in [
        ("completed", [ids[3], ids[1]]),
        ("pending", [ids[2], ids[0]]),
        ("failed", [ids[4]]),
        ("processing", []),
    ]:
        listed = (await client.get(f"/api/images?status={status}", headers=user.headers)).json()
        assert (listed["total"], [i["id"] for i in listed["images"]]) == (len(expected), expected)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("status=error", "status"),
        ("page=uno", "page"),
    ],
)
async def test_list_refuses_bad_parameters(
    client: httpx.AsyncClient, user: SignedUp, query: str, field: str
) -> None:
    response = await client.get(f"/api/images?{query}", headers=user.headers)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"Campo inválido '{field}': ")


async def test_delete_removes_the_document_and_every_blob(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    keep = await submitted_id(client, user, picture(8, 8))
    image_id = await submitted_id(client, user, picture(8, 8))
    await complete(runtime, image_id, picture(16, 16))
    response = await client.delete(f"/api/images/{image_id}", headers=user.headers)
    assert (response.status_code, response.json()) == (
        200,
        {"message": "Imagen eliminada exitosamente"},
    )
    assert await runtime.store.images.find_one({"_id": ObjectId(image_id)}) is None
    files = runtime.store.db["blobs.files"]
    assert await files.count_documents({"metadata.image_id": ObjectId(image_id)}) == 0
    assert await files.count_documents({"metadata.image_id": ObjectId(keep)}) == 1
    chunks = runtime.store.db["blobs.chunks"]
    assert await chunks.count_documents({}) == 1  # the kept image's one small chunk
    for path in ("", "/original", "/enhanced"):
        gone = await client.get(f"/api/images/{image_id}{path}", headers=user.headers)
        assert (gone.status_code, gone.json()) == (404, NOT_FOUND)
    again = await client.delete(f"/api/images/{image_id}", headers=user.headers)
    assert (again.status_code, again.json()) == (404, NOT_FOUND)


async def test_other_users_images_do_not_exist_for_them(
    client: httpx.AsyncClient, sign_up: SignUp, runtime: Runtime
) -> None:
    alice, bob = await sign_up(), await sign_up()
    image_id = await submitted_id(client, alice, picture(8, 8))
    await complete(runtime, image_id, picture(16, 16))
    for method, path in [
        ("GET", ""),
        ("GET", "?include_base64=false"),
        ("GET", "/original"),
        ("GET", "/enhanced"),
        ("DELETE", ""),
    ]:
        response = await client.request(
            method, f"/api/images/{image_id}{path}", headers=bob.headers
        )
        assert (response.status_code, response.json()) == (404, NOT_FOUND), (method, path)
    for bad in ("no-es-un-id", "0" * 24, "zz" * 12, str(ObjectId())):
        response = await client.get(f"/api/images/{bad}", headers=alice.headers)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    await submitted_id(client, bob, picture(8, 8))
    listed = (await client.get("/api/images", headers=bob.headers)).json()
    assert listed["total"] == 1 and image_id not in {i["id"] for i in listed["images"]}
    # Bob's DELETE removed nothing of Alice's.
    mine = await client.get(f"/api/images/{image_id}/original", headers=alice.headers)
    assert mine.status_code == 200


async def test_routes_need_a_token(client: httpx.AsyncClient) -> None:
    image_id = str(ObjectId())
    for method, path in [
        ("GET", "/api/images"),
        ("GET", f"/api/images/{image_id}"),
        ("DELETE", f"/api/images/{image_id}"),
        ("GET", f"/api/images/{image_id}/original"),
        ("GET", f"/api/images/{image_id}/enhanced"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)
