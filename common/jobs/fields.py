"""Field names of the image and video documents (collections ``images`` and ``videos``).

The API creates a document with every field (``ingress/images/documents.py``,
``ingress/videos/documents.py``) and answers polling from it; the stages update it. Both
sides use these names, so a rename here is a rename everywhere. (The manual's response
objects happen to use many of the same names; their order and shape live in the API's views.)
"""

from __future__ import annotations

# Both kinds of job.
ID = "_id"
USER_ID = "user_id"
STATUS = "status"
MODEL_TYPE = "model_type"
SCALE = "scale"
FACE_ENHANCE = "face_enhance"
ORIGINAL_BLOB = "original_blob"
ORIGINAL_FILENAME = "original_filename"
ORIGINAL_WIDTH = "original_width"
ORIGINAL_HEIGHT = "original_height"
ENHANCED_BLOB = "enhanced_blob"
ENHANCED_WIDTH = "enhanced_width"
ENHANCED_HEIGHT = "enhanced_height"
GPU_USED = "gpu_used"
PROCESSING_TIME_MS = "processing_time_ms"
ERROR_MESSAGE = "error_message"
# Why a job failed, for the API to answer with the right status; internal, not in any view.
ERROR_CODE = "error_code"
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"
STARTED_AT = "started_at"
COMPLETED_AT = "completed_at"
# How often the watchdog re-drove a stalled job (``common.jobs.watchdog``); internal.
WATCHDOG_REDRIVES = "watchdog_redrives"
# Where the webhooks stage POSTs the job once it ends (the request's, else the user's default
# at submission time); absent or None: no webhook.
CALLBACK_URL = "callback_url"

# Images only.
ORIGINAL_FORMAT = "original_format"
ORIGINAL_CONTENT_TYPE = "original_content_type"
OUTPUT_WIDTH = "output_width"
OUTPUT_HEIGHT = "output_height"
OUTPUT_FORMAT = "output_format"

# Videos only: what the probe found, what decode records, what upscale and encode count,
# what assembly writes.
DURATION_SECONDS = "duration_seconds"
FPS = "fps"
FRAME_RATE = "frame_rate"
FRAME_COUNT = "frame_count"
CHUNK_COUNT = "chunk_count"
STREAMS = "streams"
TIMING = "timing"
FRAMES_PROCESSED = "frames_processed"
# Of those, the frames that reused the previous output instead of running the model
# (repeated frames, ``pipeline.upscale.repeats``), and the request's near-repeat threshold in
# dB PSNR (None: exact repeats only).
FRAMES_REUSED = "frames_reused"
SKIP_SIMILAR = "skip_similar"
CHUNKS_ENCODED = "chunks_encoded"
DROPPED_STREAMS = "dropped_streams"
# Keys already counted per counter (``common.store.jobs.add_progress_once``); internal, so
# the API leaves it out of what it reads.
PROGRESS_KEYS = "done"
# Per-part progress of a counter (``common.store.jobs.advance_progress``), under the same
# internal field: ``done.parts.<counter>.<part>`` = how much of the counter that part added.
PART_PROGRESS = "parts"
