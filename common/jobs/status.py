"""The statuses of image and video jobs: the manual's values, and which ones are still running.

A status only moves forward (``common.store.jobs.transition`` takes the states it may leave):
images ``pending → processing → completed | failed``; videos ``pending → in_progress →
completed | error``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

# Where every job, image or video, starts (the API's submission relies on it).
INITIAL = "pending"


class ImageStatus(StrEnum):
    PENDING = INITIAL
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class VideoStatus(StrEnum):
    PENDING = INITIAL
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ERROR = "error"


# How a failed image's ``error_message`` starts (the manual's "Error procesando imagen: ...").
IMAGE_ERROR_PREFIX = "Error procesando imagen: "
# How a failed video's ``error_message`` starts.
VIDEO_ERROR_PREFIX = "Error al procesar el video: "

IMAGE_ACTIVE = (ImageStatus.PENDING, ImageStatus.PROCESSING)
IMAGE_FINISHED = (ImageStatus.COMPLETED, ImageStatus.FAILED)
VIDEO_ACTIVE = (VideoStatus.PENDING, VideoStatus.IN_PROGRESS)

# Every status a job ends in, images and videos together: how messages (``webhook.requested``),
# metrics, webhooks and event streams spell "it ended".
FinalStatus = Literal["completed", "failed", "error"]
FINAL: frozenset[str] = frozenset(get_args(FinalStatus))
assert {*IMAGE_FINISHED, VideoStatus.COMPLETED, VideoStatus.ERROR} == FINAL
