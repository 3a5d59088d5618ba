"""Log lines carry their job: JSON or text, from a context the runner and the API bind."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from common.contracts import ChunkReady, WebhookRequested
from common.logs import JsonFormatter, TextFormatter, _ContextFilter, log_context
from pipeline.runner import job_fields

OID = "65f0c0ffee0123456789abcd"


def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    made = logging.LogRecord("pipeline.x", logging.WARNING, __file__, 1, message, None,
                             (type(exc), exc, exc.__traceback__) if exc else None)
    _ContextFilter().filter(made)
    return made


def test_json_lines_carry_the_context_and_the_traceback() -> None:
    with log_context(job_id=OID, kind="video", stage="upscale", chunk=3):
        line = json.loads(JsonFormatter().format(record("chunk done")))
    assert line["message"] == "chunk done" and line["level"] == "WARNING"
    assert (line["job_id"], line["kind"], line["stage"], line["chunk"]) == (
        OID, "video", "upscale", 3)
    assert line["logger"] == "pipeline.x" and line["ts"].endswith("+00:00")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        failed = json.loads(JsonFormatter().format(record("failed", exc)))
    assert "ValueError: boom" in failed["exc"] and "job_id" not in failed


def test_text_lines_end_with_the_context() -> None:
    with log_context(job_id=OID, stage="encode"):
        text = TextFormatter().format(record("assembled"))
    assert text.endswith(f"pipeline.x: assembled [job_id={OID} stage=encode]")
    assert TextFormatter().format(record("idle")).endswith("pipeline.x: idle")


async def test_the_context_follows_tasks_and_ends_with_the_block() -> None:
    seen: list[dict[str, object]] = []

    async def child() -> None:
        seen.append(json.loads(JsonFormatter().format(record("in a task"))))

    with log_context(job_id=OID, kind="image"):
        await asyncio.create_task(child())
    assert seen[0]["job_id"] == OID
    assert "job_id" not in json.loads(JsonFormatter().format(record("after")))


@pytest.mark.parametrize(("message", "fields"), [
    (ChunkReady(video_id=OID, chunk_index=2, chunk_count=3, chunk_blob=OID, frame_count=4,
                scale=2), {"job_id": OID, "kind": "video", "chunk": 2}),
    (WebhookRequested(kind="image", job_id=OID, status="completed"),
     {"job_id": OID, "kind": "image", "chunk": None}),
])
def test_job_fields_of_messages(message: object, fields: dict[str, object]) -> None:
    assert job_fields(message) == fields  # type: ignore[arg-type]
