"""The webhooks stage's handler: one attempt of one delivery, then the next one scheduled.

``webhook.requested`` (kind, job id, final status, attempt n) → load the job and its delivery
record (``common.webhooks.records``), then decide from the record alone:

* delivered, or failed for good → nothing (a duplicate);
* attempt n already recorded → a repeat; ask for attempt n+1 unless someone already did
  (a worker may have died between recording n and publishing n+1);
* attempt n is due and free → claim it (a lease), sign and POST the job object, record the
  outcome, and on a failure publish attempt n+1 delayed by ``WEBHOOK_RETRY_DELAYS[n-1]``
  through the broker (``publish_later``), or mark the delivery failed when none is left;
* attempt n is early, or another worker holds its lease → look again later.

Waits use only the schedule's own delays, because each distinct delay is a queue on RabbitMQ.
The job itself is never touched: a receiver that fails changes nothing but its record.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from common.contracts import WebhookRequested, encode
from common.jobs import fields as F
from common.jobs.views import job_summary, manual_timestamp
from common.metrics import WEBHOOK_ATTEMPTS
from common.runtime import Runtime
from common.store.ids import utcnow
from common.version import VERSION
from common.webhooks import records as R
from common.webhooks import signing
from common.webhooks.addresses import AddressPolicy
from pipeline.webhooks.http import post

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookContext:
    runtime: Runtime
    policy: AddressPolicy
    delays: tuple[float, ...]
    timeout: float

    @classmethod
    def open(cls, runtime: Runtime) -> WebhookContext:
        settings = runtime.settings
        return cls(runtime, AddressPolicy.from_settings(settings),
                   settings.webhook_retry_delays, settings.webhook_timeout_seconds)

    @property
    def lease(self) -> timedelta:
        # Longer than any attempt can take (the POST's deadline), so a live worker keeps it.
        return timedelta(seconds=2 * self.timeout + 5)

    def wait_for(self, seconds: float) -> float:
        """The longest scheduled delay not beyond ``seconds`` (else the shortest one)."""
        choices = sorted(set(self.delays)) or [seconds]
        fitting = [d for d in choices if d <= seconds]
        return fitting[-1] if fitting else choices[0]


async def handle_webhook_requested(ctx: WebhookContext, msg: WebhookRequested) -> None:
    store = ctx.runtime.store
    job_id = ObjectId(msg.job_id)
    jobs = store.images if msg.kind == "image" else store.videos
    job = await jobs.find_one({F.ID: job_id}, {F.PROGRESS_KEYS: 0})
    if job is None or job.get(F.STATUS) != msg.status or not job.get(F.CALLBACK_URL):
        log.info("%s %s: deleted, or nothing to deliver; webhook request dropped",
                 msg.kind, job_id)
        return
    record = await R.open_record(store, msg, job[F.USER_ID], job[F.CALLBACK_URL])
    if record[R.STATUS] != R.DeliveryStatus.PENDING:
        return
    done = int(record[R.ATTEMPT_COUNT])
    if done >= msg.attempt:
        if done == msg.attempt and int(record.get(R.SCHEDULED) or 0) <= done:
            await _ask_for(ctx, msg, done + 1, record[R.NEXT_ATTEMPT_AT])
        return
    if done < msg.attempt - 1:
        return  # cannot happen: attempt n is only published once n-1 is recorded
    owner = await R.claim(store, record[R.ID], msg.attempt, ctx.lease)
    if owner is None:  # early, or another worker's lease: look again once it is over
        now = utcnow()
        until = max(record.get(R.NEXT_ATTEMPT_AT) or now, record.get(R.LEASE_UNTIL) or now)
        await _republish(ctx, msg, until if until > now else now + ctx.lease)
        return
    await _attempt(ctx, msg, job, record, owner)


async def _attempt(ctx: WebhookContext, msg: WebhookRequested, job: dict[str, Any],
                   record: dict[str, Any], owner: str) -> None:
    store = ctx.runtime.store
    secret = (await R.user_webhook(store, job[F.USER_ID]))[R.USER_WEBHOOK_SECRET]
    body = json.dumps({
        "id": record[R.ID],
        "event": record[R.EVENT],
        "created_at": manual_timestamp(record[R.CREATED_AT]),
        msg.kind: job_summary(msg.kind, job, utcnow()),
    }, ensure_ascii=False).encode()
    timestamp = int(utcnow().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"image-enhancer-webhooks/{VERSION}",
        signing.EVENT_HEADER: record[R.EVENT],
        signing.DELIVERY_HEADER: record[R.ID],
        signing.ATTEMPT_HEADER: str(msg.attempt),
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
    }
    outcome = await post(record[R.URL], body, headers, policy=ctx.policy, seconds=ctx.timeout)
    retry_in = ctx.delays[msg.attempt - 1] if msg.attempt <= len(ctx.delays) else None
    next_at = (outcome.at + timedelta(seconds=retry_in)
               if not outcome.accepted and retry_in is not None else None)
    if not await R.record_attempt(store, record[R.ID], msg.attempt, owner, outcome, next_at):
        log.warning("webhook %s attempt %d: lease lost; its outcome is not recorded",
                    record[R.ID], msg.attempt)
        return
    WEBHOOK_ATTEMPTS.labels("delivered" if outcome.accepted
                            else "retry" if next_at is not None else "failed").inc()
    if outcome.accepted:
        log.info("webhook %s delivered on attempt %d (HTTP %s, %d ms)", record[R.ID],
                 msg.attempt, outcome.status_code, outcome.duration_ms)
    elif next_at is None:
        log.warning("webhook %s failed for good after %d attempts: %s", record[R.ID],
                    msg.attempt, outcome.error)
    else:
        log.info("webhook %s attempt %d failed (%s); next in %g s", record[R.ID],
                 msg.attempt, outcome.error, retry_in)
        await _ask_for(ctx, msg, msg.attempt + 1, next_at)


async def _ask_for(ctx: WebhookContext, msg: WebhookRequested, attempt: int,
                   due: datetime | None) -> None:
    """Publish attempt ``attempt``, due at ``due``, and remember that it was asked for."""
    await _republish(ctx, msg.model_copy(update={"attempt": attempt}), due or utcnow())
    await R.mark_scheduled(ctx.runtime.store, R.delivery_id(msg), attempt)


async def _republish(ctx: WebhookContext, msg: WebhookRequested, due: datetime) -> None:
    delay = ctx.wait_for((due - utcnow()).total_seconds())
    await ctx.runtime.bus.publish_later(
        msg.queue, encode(msg), delay=delay, message_id=msg.key(),
        headers={"type": msg.type, "version": str(msg.version)})
