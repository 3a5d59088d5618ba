"""The webhooks stage against a real receiver: signed, exactly one accepted delivery per job
end, retries through the broker's delays, give-up, redirects and forbidden addresses."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from bson import ObjectId

from bench._support.webhooks import receiver
from common.contracts import WebhookRequested
from common.jobs.views import image_summary
from common.messaging import publish
from common.runtime import Runtime
from common.store import Store
from common.webhooks import records as R
from common.webhooks.notify import notify_finished
from pipeline.webhooks.stage import STAGE as WEBHOOKS
from tests.common.bus.support import eventually
from tests.pipeline.webhooks.conftest import DELAYS, StartStages, ended_image, new_user


async def record_of(store: Store, kind: str, job_id: ObjectId, status: str) -> dict[str, Any]:
    doc = await store.webhook_deliveries.find_one({"_id": f"{kind}:{job_id}:{status}"})
    assert doc is not None
    return doc


async def settled_record(store: Store, record_id: str, within: float = 20) -> dict[str, Any]:
    async def settled() -> bool:
        doc = await store.webhook_deliveries.find_one({"_id": record_id})
        return doc is not None and doc["status"] != "pending"

    await eventually(settled, within=within)
    doc = await store.webhook_deliveries.find_one({"_id": record_id})
    assert doc is not None
    return doc


async def secret_of(runtime: Runtime, user_id: ObjectId) -> str:
    secret: str = (await R.user_webhook(runtime.store, user_id))[R.USER_WEBHOOK_SECRET]
    return secret


async def test_one_completion_is_one_signed_accepted_delivery(start: StartStages,
                                                              store: Store) -> None:
    with receiver() as hook:
        runtime = await start([WEBHOOKS])
        user = await new_user(store)
        image_id = await ended_image(store, user, hook.url)
        for _ in range(3):  # the ending stage and two repeats (a redelivery, a give-up hook)
            assert await notify_finished(runtime, "image", image_id)
        record = await settled_record(store, f"image:{image_id}:completed")
        await asyncio.sleep(1.0)  # time for any second delivery to show up
        (got,) = hook.received
        assert got.answered == 200 and got.signed_by(await secret_of(runtime, user))
    assert record["status"] == "delivered" and record["attempt_count"] == 1
    assert got.headers["X-Enhancer-Event"] == "image.completed"
    assert got.headers["X-Enhancer-Delivery"] == f"image:{image_id}:completed"
    assert got.headers["X-Enhancer-Attempt"] == "1"
    assert got.headers["Content-Type"] == "application/json"
    job = await store.images.find_one({"_id": image_id})
    assert job is not None
    assert got.json == {"id": f"image:{image_id}:completed", "event": "image.completed",
                        "created_at": got.json["created_at"], "image": image_summary(job)}
    assert got.json["image"]["status"] == "completed"


async def test_a_receiver_failing_twice_gets_it_on_the_third_try(start: StartStages,
                                                                 store: Store) -> None:
    with receiver(answers=[500, 503]) as hook:
        runtime = await start([WEBHOOKS])
        user = await new_user(store)
        image_id = await ended_image(store, user, hook.url)
        before = await store.images.find_one({"_id": image_id})
        await notify_finished(runtime, "image", image_id)
        record = await settled_record(store, f"image:{image_id}:completed")
        await asyncio.sleep(1.0)
        received = list(hook.received)
    assert [r.answered for r in received] == [500, 503, 200]
    assert len(hook.accepted()) == 1
    secret = await secret_of(runtime, user)
    assert all(r.signed_by(secret) for r in received)
    assert [r.headers["X-Enhancer-Attempt"] for r in received] == ["1", "2", "3"]
    assert len({r.body for r in received}) == 1, "every attempt sends the same job object"
    gaps = [b.at - a.at for a, b in itertools.pairwise(received)]
    assert gaps[0] >= DELAYS[0] - 0.05 and gaps[1] >= DELAYS[1] - 0.05
    assert record["status"] == "delivered" and record["attempt_count"] == 3
    assert [(a["attempt"], a["status_code"]) for a in record["attempts"]] == [
        (1, 500), (2, 503), (3, 200)]
    assert record["attempts"][0]["error"] == "HTTP 500"
    assert record["delivered_at"] == record["attempts"][2]["at"]
    assert await store.images.find_one({"_id": image_id}) == before, "the job is untouched"


async def test_gives_up_after_the_last_scheduled_attempt(start: StartStages,
                                                         store: Store) -> None:
    with receiver(default=500) as hook:
        runtime = await start([WEBHOOKS])
        image_id = await ended_image(store, await new_user(store), hook.url, status="failed")
        await notify_finished(runtime, "image", image_id)
        record = await settled_record(store, f"image:{image_id}:failed")
        await asyncio.sleep(1.0)
        assert hook.count() == len(DELAYS) + 1
    assert record["status"] == "failed" and record["next_attempt_at"] is None
    assert [a["status_code"] for a in record["attempts"]] == [500, 500, 500]
    assert hook.received[0].headers["X-Enhancer-Event"] == "image.failed"
    assert await runtime.bus.dead_letters("webhooks") == []


async def test_redirects_are_not_followed(start: StartStages, store: Store) -> None:
    with receiver() as elsewhere, receiver(answers=[307], redirect_to=elsewhere.url) as hook:
        runtime = await start([WEBHOOKS])
        image_id = await ended_image(store, await new_user(store), hook.url)
        await notify_finished(runtime, "image", image_id)
        record = await settled_record(store, f"image:{image_id}:completed")
        assert elsewhere.count() == 0
    assert [a["status_code"] for a in record["attempts"]] == [307, 200]
    assert "redirección no seguida" in record["attempts"][0]["error"]


async def test_an_address_the_policy_forbids_is_never_contacted(start: StartStages,
                                                               store: Store) -> None:
    """A URL that got past submission (say, its name now resolves to loopback) is checked
    again when the stage connects."""
    with receiver() as hook:
        runtime = await start([WEBHOOKS], webhook_allow_networks=())
        url = hook.url.replace("127.0.0.1", "localhost")
        image_id = await ended_image(store, await new_user(store), url)
        await notify_finished(runtime, "image", image_id)
        record = await settled_record(store, f"image:{image_id}:completed")
        assert hook.count() == 0
    assert record["status"] == "failed"
    assert all(a["status_code"] is None and "no permitida" in a["error"]
               for a in record["attempts"])


async def test_jobs_without_a_url_or_deleted_deliver_nothing(start: StartStages,
                                                             store: Store) -> None:
    with receiver() as hook:
        runtime = await start([WEBHOOKS])
        user = await new_user(store)
        silent = await ended_image(store, user, None)
        assert not await notify_finished(runtime, "image", silent)
        gone = await ended_image(store, user, hook.url)
        await store.images.delete_one({"_id": gone})  # deleted before its request is handled
        await publish(runtime.bus, WebhookRequested(kind="image", job_id=str(gone),
                                                    status="completed"))
        await asyncio.sleep(1.0)  # time for the request to be handled (and dropped)
        assert hook.count() == 0
    assert await store.webhook_deliveries.count_documents({}) == 0
