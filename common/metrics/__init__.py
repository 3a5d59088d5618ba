"""Prometheus metrics: every process exposes its own (see README, "Metrics").

Each process counts what it does, in prometheus_client's default registry: the API what it
accepts, each stage what it runs and finishes. Prometheus scrapes each process (the API's
``/metrics`` on ``API_PORT``; a stage's on ``METRICS_PORT``) and sums across instances, so
nothing is counted twice and nothing needs the database at scrape time. Queue depths and
dead letters are the broker's and are read by the API at scrape time; ``python main.py`` runs
everything in one process, so its ``/metrics`` shows all of it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from common.bus.port import Bus
from common.bus.topology import STAGE_QUEUES
from common.jobs.status import ImageStatus

log = logging.getLogger(__name__)

# Seconds: images take about one to tens of seconds, videos minutes to hours.
_JOB_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
_STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 1200)

JOBS_SUBMITTED = Counter("enhancer_jobs_submitted", "Jobs accepted by the API",
                         ["kind", "model"])
JOBS_COMPLETED = Counter("enhancer_jobs_completed", "Jobs that ended completed",
                         ["kind", "model"])
JOBS_FAILED = Counter("enhancer_jobs_failed", "Jobs that ended failed (images) or in error "
                      "(videos)", ["kind", "model"])
JOB_SECONDS = Histogram("enhancer_job_duration_seconds", "From submission to the end of a job",
                        ["kind", "model", "status"], buckets=_JOB_BUCKETS)
STAGE_SECONDS = Histogram("enhancer_stage_duration_seconds", "Handling one message in a stage",
                          ["stage", "message"], buckets=_STAGE_BUCKETS)
STAGE_MESSAGES = Counter("enhancer_stage_messages", "Messages a stage handled, by outcome "
                         "(ok, retry, rejected)", ["stage", "message", "outcome"])
FRAMES_PROCESSED = Counter("enhancer_frames_processed", "Video frames upscaled", ["model"])
FRAMES_REUSED = Counter("enhancer_frames_reused", "Video frames that reused the previous "
                        "output (repeated frames), counted in enhancer_frames_processed too",
                        ["model"])
WORKER_FPS = Gauge("enhancer_worker_fps", "Frames per second of this worker's last chunk",
                   ["model"])
MODEL_LOAD_SECONDS = Histogram("enhancer_model_load_seconds", "Loading a model's weights",
                               ["model"], buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
QUEUE_READY = Gauge("enhancer_queue_messages", "Messages waiting in a stage queue (broker)",
                    ["queue"])
QUEUE_DEAD = Gauge("enhancer_queue_dead_letters", "Messages in a queue's dead-letter queue "
                   "(broker)", ["queue"])
WATCHDOG_JOBS = Counter("enhancer_watchdog_jobs", "Stalled jobs the watchdog re-drove or "
                        "failed (action: redriven, failed)", ["kind", "action"])
WEBHOOK_ATTEMPTS = Counter("enhancer_webhook_attempts", "Webhook delivery attempts by outcome "
                           "(delivered, retry, failed)", ["outcome"])


def job_ended(kind: str, model: str, status: str, created_at: object) -> None:
    """Count a job's end once (callers only call it when their final update won)."""
    (JOBS_COMPLETED if status == ImageStatus.COMPLETED else JOBS_FAILED).labels(kind, model).inc()
    if isinstance(created_at, datetime):
        started = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        seconds = max(0.0, (datetime.now(UTC) - started).total_seconds())
        JOB_SECONDS.labels(kind, model, status).observe(seconds)


async def observe_queues(bus: Bus, seconds: float = 2.0) -> bool:
    """Read every stage queue's depth and dead letters from the broker into the gauges;
    False (gauges left as they were) when the broker does not answer in ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            for queue in STAGE_QUEUES:
                depth = await bus.depths(queue)
                QUEUE_READY.labels(queue).set(depth.ready)
                QUEUE_DEAD.labels(queue).set(depth.dead)
    except Exception as exc:  # any broker trouble: the scrape still answers
        log.warning("queue depths unavailable: %s", exc)
        return False
    return True
