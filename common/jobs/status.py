"""The statuses of image and video jobs: the manual's values, and which ones are still running.

A status only moves forward (``common.store.jobs.transition`` takes the states it may leave):
images ``pending → processing → completed | failed``; videos ``pending → in_progress →
completed | error``.
"""

from __future__ import annotations

from enum import StrEnum

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

IMAGE_ACTIVE = (ImageStatus.PENDING, ImageStatus.PROCESSING)
IMAGE_FINISHED = (ImageStatus.COMPLETED, ImageStatus.FAILED)
VIDEO_ACTIVE = (VideoStatus.PENDING, VideoStatus.IN_PROGRESS)
