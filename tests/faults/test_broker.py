"""The broker: stopped and started mid-job (with a submission while it is down), and its
consumer timeout, lowered for the whole suite, never met by a normal chunk: a high frame rate
with no keyframe for seconds is cut into chunks that each fit well within it."""

from __future__ import annotations

import asyncio
import re
from fractions import Fraction
from pathlib import Path

import pytest

from tests.common.media.clips import make_clip
from tests.faults.harness import CONSUMER_TIMEOUT, Faults

pytestmark = pytest.mark.rabbitmq


async def test_broker_stopped_mid_job_and_a_submission_while_it_is_down(
    faults: Faults, tmp_path: Path
) -> None:
    headers, first, _ = await faults.mid_chunk("before.mp4")
    faults.inject("broker stop_app mid-job")
    faults.outage = True
    await asyncio.to_thread(faults.suite.broker.stop_app)
    try:
        health = await faults.http.get("/api/health")
        assert health.status_code == 503
        assert health.json()["services"]["broker"] == "unavailable (rabbitmq)"
        faults.inject("submission while the broker is down")
        # The API keeps trying to publish (up to 30 s) while the broker comes back.
        second = asyncio.create_task(faults.submit_video(
            headers, make_clip(tmp_path / "during.mp4", frames=16, gop=8, size=(96, 64))))
        await asyncio.sleep(3)
    finally:
        await asyncio.to_thread(faults.suite.broker.start_app)
    await second
    faults.outage = False
    await faults.completed_exactly(first)
    await faults.completed_exactly(second.result())


async def test_a_long_gop_at_240_fps_never_meets_the_consumer_timeout(
    faults: Faults, tmp_path: Path
) -> None:
    """1.2 s at 240 fps with one keyframe: cut by time alone, as before, its chunks held 240
    frames and took longer than the broker's (lowered) consumer timeout, which then closed
    the channel and redelivered them over and over. Capped at 24 frames, each chunk takes a
    small part of it, and every chunk is delivered once."""
    headers = await faults.sign_up()
    source = make_clip(tmp_path / "fast.mkv", frames=288, rate=Fraction(240), gop=1000,
                       size=(64, 48), audio=False)
    video = await faults.submit_video(headers, source)
    doc = await faults.completed_exactly(video)
    # Eleven chunks at the cap, then the last 0.1 s cut finer (a quarter chunk of 15 frames,
    # the 9 left) so that no worker finishes long after the others.
    assert doc["chunk_count"] == 13
    log = faults.deploy.log("upscale")
    attempts = re.findall(rf"video:{video}:chunk:\d+:ready started \(attempt (\d+)\)", log)
    assert len(attempts) == 13 and set(attempts) == {"1"}, attempts
    # What each stage asked of the broker: its prefetch, and the consumer timeout per consumer
    # (honoured by RabbitMQ 3.12+, ignored by this 3.10 node, whose own setting is lowered).
    consumers = faults.suite.broker.ctl("list_consumers", "--no-table-headers", "queue_name",
                                        "prefetch_count", "arguments")
    for queue, prefetch in (("decode", "1"), ("upscale", "1"), ("images", "1"), ("encode", "2")):
        line = next(row for row in consumers.splitlines() if row.startswith(f"faults.{queue}\t"))
        assert line.split("\t")[1] == prefetch, line
        assert "x-consumer-timeout" in line and str(CONSUMER_TIMEOUT * 1000) in line, line
    took = [int(ms) for ms in re.findall(rf"video:{video}:chunk:\d+:ready done in (\d+) ms", log)]
    print(f"chunks of 24 frames took {min(took)}-{max(took)} ms; consumer timeout "
          f"{CONSUMER_TIMEOUT} s")
