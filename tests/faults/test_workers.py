"""Workers lost or stopped mid-chunk: SIGKILL (a crash, an OOM kill) and SIGTERM (``docker
stop``). The job completes with every frame once either way; a graceful stop finishes the
chunk in hand, publishes its result and acks it, so it costs no delivery and no traceback."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.faults.harness import Faults

pytestmark = pytest.mark.rabbitmq

# Big enough frames that a chunk takes seconds: the signal lands inside one.
SIZE = (128, 96)


async def test_sigkill_of_an_upscale_worker_mid_chunk(faults: Faults) -> None:
    _, video, _ = await faults.mid_chunk("kill.mp4", frames=24, size=SIZE)
    faults.inject("SIGKILL of the upscale worker mid-chunk")
    faults.deploy.kill("upscale")
    faults.deploy.start("upscale", "pipeline.upscale")
    await faults.completed_exactly(video)


async def test_sigterm_mid_chunk_finishes_the_chunk_and_loses_no_delivery(
    faults: Faults,
) -> None:
    _, video, index = await faults.mid_chunk("term.mp4", frames=24, size=SIZE)
    faults.inject("SIGTERM of the upscale worker mid-chunk")
    code = await asyncio.to_thread(faults.deploy.terminate, "upscale")
    log = faults.deploy.log("upscale")
    assert code == 0, log[-3000:]
    stopping = log.rindex("stage upscale shutting down")
    # The chunk in hand when the signal came was finished during the shutdown ...
    assert f"video:{video}:chunk:{index}:ready done" in log[stopping:], log[-3000:]
    # ... its result published and the message acked: nothing failed, nothing came back.
    for trouble in ("PublishError", "the bus is closed", "Traceback", "could not be settled"):
        assert trouble not in log[stopping:], log[stopping:]
    faults.deploy.start("upscale", "pipeline.upscale")
    await faults.completed_exactly(video)
    attempts = re.findall(rf"video:{video}:chunk:\d+:ready started \(attempt (\d+)\)",
                          faults.deploy.log("upscale"))
    assert attempts and set(attempts) == {"1"}, attempts
