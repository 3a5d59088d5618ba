"""Log lines carry their job: JSON or text, from a context the runner and the API bind."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from common.contracts import ChunkReady, WebhookRequested
from common.logs import (
    JsonFormatter,
    TextFormatter,
    _ContextFilter,
    _RedactFilter,
    log_context,
)
from pipeline.runner import job_fields

OID = "65f0c0ffee0123456789abcd"


class URLish:
    """A URL that is not a str, as httpx hands its URL to the log call."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


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


@pytest.mark.parametrize(("message", "args", "logged"), [
    ('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/api/videos/1/events?ticket=eyJ.x-y.z",
                                 "1.1", 200),
     '127.0.0.1:5 - "GET /api/videos/1/events?ticket=[oculto] HTTP/1.1" 200'),
    ("HTTP Request: %s %s", ("GET", URLish("http://h/a?x=1&access_token=abc&y=2")),
     "HTTP Request: GET http://h/a?x=1&access_token=[oculto]&y=2"),
    ("plain %s", ("/api/videos/1/events?ticketing=1",), "plain /api/videos/1/events?ticketing=1"),
])
def test_query_credentials_never_reach_a_line(message: str, args: tuple[object, ...],
                                              logged: str) -> None:
    made = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, message, args, None)
    assert _RedactFilter().filter(made)
    assert TextFormatter().format(made).endswith(f"uvicorn.access: {logged}")
