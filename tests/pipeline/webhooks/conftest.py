"""The webhooks stage on a real database and a real bus (in-memory or RabbitMQ), with jobs
that ended the way the upscale and encode stages leave them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from bson import ObjectId

from common.bus import Bus, MemoryBus, RabbitBus
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from common.store.ids import utcnow
from pipeline.runner import Stage, start_stages, stop_stages
from tests.common.bus.support import AMQP_URL, TEST_DELAYS, delete_namespace, rabbitmq_reachable
from tests.services import unavailable

DELAYS = TEST_DELAYS[:2]  # 0.2 s, then 0.5 s: three attempts in all

StartStages = Callable[..., Awaitable[Runtime]]


def webhook_settings(**overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "webhook_retry_delays": DELAYS, "webhook_allow_networks": ("127.0.0.0/8",),
        "webhook_timeout_seconds": 2.0, "bus_delivery_limit": 3, "use_gpu": False,
    }
    options.update(overrides)
    return Settings(_env_file=None, **options)  # type: ignore[call-arg]


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
async def start(request: pytest.FixtureRequest, store: Store) -> AsyncIterator[StartStages]:
    """``await start(stages, **settings)``: a runtime whose bus the stages consume."""
    namespace = f"test-{uuid.uuid4().hex[:10]}"
    if request.param == "rabbitmq" and not await rabbitmq_reachable():
        unavailable("RabbitMQ")
    running: list[tuple[Bus, list[Any]]] = []

    async def make(stages: list[Stage], **overrides: Any) -> Runtime:
        settings = webhook_settings(**overrides)
        bus: Bus = (MemoryBus(delivery_limit=3, namespace=namespace)
                    if request.param == "memory"
                    else RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=3))
        await bus.start()
        runtime = Runtime(settings=settings, store=store, bus=bus, embedded=False)
        running.append((bus, await start_stages(runtime, stages)))
        return runtime

    try:
        yield make
    finally:
        for bus, workers in running:
            await stop_stages(workers)
            await bus.close()
        if request.param == "rabbitmq":
            await delete_namespace(namespace)


async def new_user(store: Store) -> ObjectId:
    user_id = ObjectId()
    await store.users.insert_one({"_id": user_id, "username": f"u{user_id}",
                                  "email": f"{user_id}@ejemplo.com", "is_active": True,
                                  "created_at": utcnow()})
    return user_id


async def ended_image(store: Store, user_id: ObjectId, url: str | None,
                      status: str = "completed") -> ObjectId:
    """An image document as the upscale stage leaves it at the end."""
    image_id, now = ObjectId(), utcnow()
    await store.images.insert_one({
        "_id": image_id, "user_id": user_id, "original_filename": "foto.png",
        "original_width": 40, "original_height": 40, "enhanced_width": 80,
        "enhanced_height": 80, "model_type": "anime_video", "scale": 2, "output_width": None,
        "output_height": None, "face_enhance": False, "status": status,
        "processing_time_ms": 900, "gpu_used": False, "created_at": now, "updated_at": now,
        "completed_at": now, "error_message": None if status == "completed" else "Error x",
        "callback_url": url,
    })
    return image_id
