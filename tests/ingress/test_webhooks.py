"""The API side of webhooks: callback_url on submissions (SSRF refused with a 400 before
anything is stored), the user's default URL and secret, and the deliveries list."""

from __future__ import annotations

import base64

import httpx
import pytest
from bson import ObjectId

from common.contracts import WebhookRequested, decode
from common.runtime import Runtime
from common.settings import Settings
from common.store.ids import utcnow
from tests.ingress.conftest import SignedUp, SignUp, make_settings
from tests.ingress.image_files import picture, submit, submitted_id
from tests.ingress.video_clips import make_clip

HOOK = "http://127.0.0.1:9/hook"  # loopback is allowed in these tests, as an operator may


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0, webhook_allow_networks=("127.0.0.0/8",))


async def nothing_stored(runtime: Runtime) -> bool:
    db = runtime.store.db
    return all([await db[name].count_documents({}) == 0
                for name in ("images", "videos", "blobs.files")])


@pytest.mark.parametrize(("url", "says"), [
    ("http://10.0.0.7/hook", "no permitida"),
    ("http://169.254.169.254/latest/meta-data/", "no permitida"),
    ("http://[::1]/hook", "no permitida"),
    ("http://[::ffff:10.0.0.1]:8080/x", "no permitida"),
    ("http://0.0.0.0:8080/", "no permitida"),
    ("ftp://example.com/hook", "http:// o https://"),
    ("https://no-such-host.invalid/hook", "no se pudo resolver"),
])
async def test_a_forbidden_callback_url_is_a_400_that_stores_nothing(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, url: str,
        says: str) -> None:
    image = await submit(client, user, picture(32, 32), callback_url=url)
    video = await client.post("/api/videos/enhance", headers=user.headers, json={
        "video_base64": base64.b64encode(make_clip(frames=4)).decode(),
        "filename": "clip.mp4", "callback_url": url})
    for answer in (image, video):
        assert answer.status_code == 400, answer.text
        assert says in answer.json()["error"] and "callback_url" in answer.json()["error"]
    assert await nothing_stored(runtime)


async def test_the_requested_url_or_else_the_users_default_is_kept_on_the_job(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime) -> None:
    plain = await submitted_id(client, user, picture(32, 32))
    own = await submitted_id(client, user, picture(32, 32), callback_url=HOOK + "?own=1")
    answer = await client.put("/api/webhooks", headers=user.headers,
                              json={"callback_url": HOOK})
    assert answer.status_code == 200, answer.text
    defaulted = await submitted_id(client, user, picture(32, 32))
    multipart = await client.post(
        "/api/images/enhance", headers=user.headers, data={"callback_url": HOOK + "?form=1"},
        files={"file": ("a.png", picture(32, 32), "image/png")})
    assert multipart.status_code == 202, multipart.text
    urls = {}
    for image_id in (plain, own, defaulted, multipart.json()["image"]["id"]):
        doc = await runtime.store.images.find_one({"_id": ObjectId(image_id)})
        assert doc is not None
        urls[image_id] = doc["callback_url"]
    assert list(urls.values()) == [None, HOOK + "?own=1", HOOK, HOOK + "?form=1"]


async def test_the_document_s_pattern_is_the_rule_and_empty_means_the_default(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime) -> None:
    assert (await client.put("/api/webhooks", headers=user.headers,
                             json={"callback_url": HOOK})).status_code == 200
    defaulted = await submitted_id(client, user, picture(32, 32), callback_url="")
    doc = await runtime.store.images.find_one({"_id": ObjectId(defaulted)})
    assert doc is not None and doc["callback_url"] == HOOK
    for url in (" " + HOOK, HOOK + "\n", "http://127.0.0.1:9/a b", "http://127.0.0.1:0/"):
        refused = await submit(client, user, picture(32, 32), callback_url=url)
        assert refused.status_code == 400, url
        assert "http(s)://host[:puerto][/ruta]" in refused.json()["error"]
        again = await client.put("/api/webhooks", headers=user.headers, json={"callback_url": url})
        assert again.json() == refused.json()
    cleared = await client.put("/api/webhooks", headers=user.headers, json={"callback_url": ""})
    assert cleared.status_code == 200 and cleared.json()["webhook"]["callback_url"] is None


async def test_webhook_settings_and_secret(client: httpx.AsyncClient, user: SignedUp,
                                           sign_up: SignUp) -> None:
    first = await client.get("/api/webhooks", headers=user.headers)
    assert first.status_code == 200
    webhook = first.json()["webhook"]
    assert webhook["callback_url"] is None and webhook["secret"].startswith("whsec_")
    again = (await client.get("/api/webhooks", headers=user.headers)).json()["webhook"]
    assert again["secret"] == webhook["secret"], "the secret is created once"
    other = await sign_up()
    theirs = (await client.get("/api/webhooks", headers=other.headers)).json()["webhook"]
    assert theirs["secret"] != webhook["secret"]
    rotated = await client.post("/api/webhooks/secret", headers=user.headers)
    assert rotated.status_code == 200
    assert rotated.json()["webhook"]["secret"] not in (webhook["secret"], None)
    refused = await client.put("/api/webhooks", headers=user.headers,
                               json={"callback_url": "http://192.168.1.1/x"})
    assert refused.status_code == 400 and "no permitida" in refused.json()["error"]
    missing = await client.put("/api/webhooks", headers=user.headers, json={})
    assert missing.status_code == 400 and "callback_url" in missing.json()["error"]
    cleared = await client.put("/api/webhooks", headers=user.headers,
                               json={"callback_url": None})
    assert cleared.json()["webhook"]["callback_url"] is None
    for method, path in (("GET", "/api/webhooks"), ("PUT", "/api/webhooks"),
                         ("POST", "/api/webhooks/secret"), ("GET", "/api/webhooks/deliveries")):
        anonymous = await client.request(method, path)
        assert anonymous.status_code == 401
        assert anonymous.json() == {"error": "Token de autenticación requerido"}


async def test_deliveries_are_listed_for_their_owner_only(
        client: httpx.AsyncClient, user: SignedUp, sign_up: SignUp, runtime: Runtime) -> None:
    me = (await client.get("/api/auth/me", headers=user.headers)).json()["user"]["id"]
    now = utcnow()
    job = ObjectId()
    await runtime.store.webhook_deliveries.insert_one({
        "_id": f"video:{job}:completed", "user_id": ObjectId(me), "kind": "video",
        "job_id": job, "event": "video.completed", "url": HOOK, "status": "delivered",
        "attempt_count": 2, "attempts": [
            {"attempt": 1, "at": now, "status_code": 500, "error": "HTTP 500", "duration_ms": 3},
            {"attempt": 2, "at": now, "status_code": 204, "error": None, "duration_ms": 2}],
        "lease_owner": None, "lease_until": None, "next_attempt_at": None,
        "scheduled_attempt": 2, "created_at": now, "updated_at": now, "delivered_at": now,
    })
    page = await client.get("/api/webhooks/deliveries", headers=user.headers)
    assert page.status_code == 200
    body = page.json()
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 10)
    (delivery,) = body["deliveries"]
    assert delivery["id"] == f"video:{job}:completed" and delivery["job_id"] == str(job)
    assert delivery["status"] == "delivered" and delivery["event"] == "video.completed"
    assert [(a["attempt"], a["status_code"]) for a in delivery["attempts"]] == [(1, 500),
                                                                                (2, 204)]
    stamp = now.replace(tzinfo=None, microsecond=0).isoformat()
    assert delivery["delivered_at"] == stamp and delivery["attempts"][0]["at"] == stamp
    filtered = await client.get("/api/webhooks/deliveries?status=failed", headers=user.headers)
    assert filtered.json()["total"] == 0
    bad = await client.get("/api/webhooks/deliveries?status=nope", headers=user.headers)
    assert bad.status_code == 400 and "status" in bad.json()["error"]
    other = await sign_up()
    theirs = await client.get("/api/webhooks/deliveries", headers=other.headers)
    assert theirs.json()["total"] == 0


async def test_the_submission_itself_publishes_no_webhook_request(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime) -> None:
    """Only the stage that ends a job asks for its webhook (a pending job has nothing to say)."""
    await submitted_id(client, user, picture(32, 32), callback_url=HOOK)
    from common.bus import MemoryBus

    assert isinstance(runtime.bus, MemoryBus)
    queued = runtime.bus._queue("webhooks").ready
    assert [m for m in queued if isinstance(decode(m.body), WebhookRequested)] == []
