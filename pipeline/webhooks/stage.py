"""The webhooks stage: delivers signed job objects to callback URLs, with retries.

Consumes ``webhook.requested`` (published by upscale and encode when a job with a
``callback_url`` ends, and by this stage itself for each retry, delayed through the broker).
See :mod:`pipeline.webhooks.delivery`. Several attempts run at once: they wait on receivers,
not on the CPU.
"""

from __future__ import annotations

from common.contracts import WebhookRequested
from common.heartbeat import WorkerInfo
from common.runtime import Runtime
from pipeline.runner import Stage
from pipeline.webhooks.delivery import WebhookContext, handle_webhook_requested


def worker_info(runtime: Runtime) -> WorkerInfo:
    return WorkerInfo(stage="webhooks", device="cpu", device_name="cpu")


STAGE = Stage(name="webhooks", handlers={WebhookRequested: handle_webhook_requested},
              context=WebhookContext.open, worker_info=worker_info, concurrency=8)
