"""Run one stage as its own process against RabbitMQ and MongoDB (distributed mode)."""

from __future__ import annotations

import logging

from common.metrics.exposition import stage_metrics
from common.process import run_main, shutdown_event
from common.runtime import open_runtime
from common.settings import Settings
from pipeline.runner import Stage, start_stages, stop_stages

log = logging.getLogger(__name__)


def run_stage_process(stage: Stage, argv: list[str] | None = None) -> int:
    async def main(settings: Settings) -> None:
        stop = shutdown_event()
        async with stage_metrics(settings), open_runtime(settings, embedded=False) as runtime:
            workers = await start_stages(runtime, [stage])
            await stop.wait()
            log.info("stage %s shutting down", stage.name)
            await stop_stages(workers)
            # Closing the runtime closes the bus, which finishes or requeues in-flight messages.

    return run_main(
        f"Image Enhancer pipeline stage '{stage.name}' (consumes its queue).", main, argv
    )
