"""Downloads with blobs in object storage (moto's S3 server): streamed through the API by
default, or, with BLOB_DOWNLOAD_REDIRECT_SECONDS, a 307 to a presigned URL that serves the
same bytes, type and file name; deleting the job empties the bucket of it."""

from __future__ import annotations

import httpx
import pytest

from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from common.store.s3_blobs import S3BlobStore
from tests.ingress.conftest import SignedUp, assert_download_headers, make_settings
from tests.ingress.image_files import complete, picture, submitted_id


@pytest.fixture
def store(s3_store: Store) -> Store:
    return s3_store


@pytest.fixture(params=[0, 60], ids=["streamed", "redirected"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return make_settings(image_wait_seconds=0, blob_download_redirect_seconds=request.param)


async def test_downloads_from_object_storage(client: httpx.AsyncClient, user: SignedUp,
                                             runtime: Runtime) -> None:
    raw, result = picture(40, 20), picture(80, 40)
    image_id = await submitted_id(client, user, raw, filename="año.png", scale=2)
    await complete(runtime, image_id, result)
    redirect = runtime.settings.blob_download_redirect_seconds > 0
    for kind, expected in (("original", raw), ("enhanced", result)):
        answer = await client.get(f"/api/images/{image_id}/{kind}", headers=user.headers)
        if redirect:
            assert answer.status_code == 307 and answer.headers["cache-control"] == "no-store"
            location = answer.headers["location"]
            assert location.startswith(runtime.store.blobs.where.endpoint_url)  # type: ignore[attr-defined]
            async with httpx.AsyncClient() as outside:  # the client follows it to the store
                answer = await outside.get(location)
        else:
            assert_download_headers(answer.headers)
        assert answer.status_code == 200 and answer.content == expected
        assert answer.headers["content-type"] == "image/png"
        name = "a%C3%B1o.png" if kind == "original" else "a%C3%B1o_mejorado.png"
        assert f"filename*=UTF-8''{name}" in answer.headers["content-disposition"]
    gone = await client.get("/api/images/65f0c0ffee0123456789abcd/original",
                            headers=user.headers)
    assert gone.status_code == 404
    # Deleting the job removes its objects from the bucket.
    blobs = runtime.store.blobs
    assert isinstance(blobs, S3BlobStore)
    listed = blobs.bucket.client.list_objects_v2(Bucket=blobs.where.bucket)
    assert len(listed["Contents"]) == 2
    deleted = await client.delete(f"/api/images/{image_id}", headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    listed = blobs.bucket.client.list_objects_v2(Bucket=blobs.where.bucket)
    assert listed.get("Contents", []) == []
