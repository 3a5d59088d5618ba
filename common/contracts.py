"""The messages the pipeline exchanges: one versioned pydantic model each.

Producers and consumers import these and nothing else, so a field rename breaks both sides at
once. Messages carry ids and GridFS blob references, never pixels. Each model pins its
``type`` and ``version``; a consumer that meets a newer major version dead-letters the message
instead of guessing. ``python -m common.schema`` publishes them as JSON Schema and AsyncAPI.

Version 2 (issue 16, streamed decode): ``chunk.ready`` and ``chunk.upscaled`` may leave
``chunk_count`` out (null) because decode publishes each chunk as soon as it is cut, before
it knows how many there will be; the count arrives in ``video.split`` once the split ends.
Version 1 messages (``chunk_count`` always set) are still accepted and handled as before, so
messages published by the previous release and still queued during an upgrade finish their job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from common.errors import PermanentFailure
from common.jobs.status import FinalStatus
from common.models import DEFAULT_MODEL, MODEL_IDS
from common.sizing import MAX_SCALE, MIN_SCALE

if TYPE_CHECKING:
    ModelType = str
else:
    # The catalogue's ids as a Literal: validated, and published as an enum in the JSON Schema.
    ModelType = Literal[MODEL_IDS]
ObjectIdStr = Annotated[str, Field(pattern=r"^[0-9a-f]{24}$", description="MongoDB ObjectId")]
BlobRef = Annotated[str, Field(pattern=r"^[0-9a-f]{24}$", description="GridFS file id")]
Scale = Annotated[int, Field(ge=MIN_SCALE, le=MAX_SCALE)]
Dimension = Annotated[int, Field(gt=0)]
OutputFormat = Literal["png", "jpeg", "webp"]
# Each result format's media type and file extension: the worker stores the result under
# them and the API serves it with them.
OUTPUT_MEDIA: dict[str, tuple[str, str]] = {
    "png": ("image/png", "png"),
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
}


class Message(BaseModel):
    """Common envelope fields; ``queue`` says where the message is published."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    queue: ClassVar[str]

    type: str
    version: Literal[1] = 1

    def key(self) -> str:
        """A stable id: the same logical message always gets the same message id."""
        raise NotImplementedError


class ImageJobSubmitted(Message):
    """Ingress → upscale, on the image lane (queue ``images``, consumed by the upscale workers
    beside ``upscale``): enhance one stored image. The previous release published it to
    ``upscale``; the upscale stage still handles it there."""

    queue: ClassVar[str] = "images"
    type: Literal["image.submitted"] = "image.submitted"
    image_id: ObjectIdStr
    user_id: ObjectIdStr
    original_blob: BlobRef
    model_type: ModelType = DEFAULT_MODEL
    scale: Scale
    output_width: Dimension | None = None
    output_height: Dimension | None = None
    face_enhance: bool = False
    output_format: OutputFormat = "png"

    def key(self) -> str:
        return f"image:{self.image_id}"


class VideoSubmitted(Message):
    """Ingress → decode: probe and split one stored video."""

    queue: ClassVar[str] = "decode"
    type: Literal["video.submitted"] = "video.submitted"
    video_id: ObjectIdStr
    user_id: ObjectIdStr
    original_blob: BlobRef
    model_type: ModelType = DEFAULT_MODEL
    scale: Scale
    face_enhance: bool = False

    def key(self) -> str:
        return f"video:{self.video_id}"


ChunkCount = Annotated[int, Field(ge=1)]


class StreamedChunk(Message):
    """A chunk message of contract v2: ``chunk_count`` is None while decode is still cutting
    (the count arrives in ``video.split``); v1 messages always carry it."""

    version: Literal[1, 2] = 2  # type: ignore[assignment]
    chunk_count: ChunkCount | None = None

    @model_validator(mode="after")
    def _v1_has_a_count(self) -> StreamedChunk:
        if self.version == 1 and self.chunk_count is None:
            raise ValueError("a version 1 chunk message carries chunk_count")
        return self


class ChunkReady(StreamedChunk):
    """Decode → upscale: one keyframe-aligned chunk of source frames is stored."""

    queue: ClassVar[str] = "upscale"
    type: Literal["chunk.ready"] = "chunk.ready"
    video_id: ObjectIdStr
    chunk_index: Annotated[int, Field(ge=0)]
    chunk_blob: BlobRef
    frame_count: Annotated[int, Field(ge=1)]
    model_type: ModelType = DEFAULT_MODEL
    scale: Scale
    face_enhance: bool = False

    def key(self) -> str:
        return f"video:{self.video_id}:chunk:{self.chunk_index}:ready"


class ChunkUpscaled(StreamedChunk):
    """Upscale → encode: the chunk's enhanced frames are stored, timestamps intact."""

    queue: ClassVar[str] = "encode"
    type: Literal["chunk.upscaled"] = "chunk.upscaled"
    video_id: ObjectIdStr
    chunk_index: Annotated[int, Field(ge=0)]
    upscaled_blob: BlobRef
    frame_count: Annotated[int, Field(ge=1)]
    width: Dimension
    height: Dimension

    def key(self) -> str:
        return f"video:{self.video_id}:chunk:{self.chunk_index}:upscaled"


class VideoSplit(Message):
    """Decode → encode (contract v2): the split ended with ``chunk_count`` chunks holding
    ``frame_count`` frames. Every ``chunk.ready`` was published before it; encode assembles
    once this count of chunks is encoded."""

    queue: ClassVar[str] = "encode"
    type: Literal["video.split"] = "video.split"
    version: Literal[2] = 2  # type: ignore[assignment]
    video_id: ObjectIdStr
    chunk_count: ChunkCount
    frame_count: Annotated[int, Field(ge=1)]

    def key(self) -> str:
        return f"video:{self.video_id}:split"


class VideoAssemble(Message):
    """Encode → encode: every chunk of the job is encoded; join, mux and finish the job."""

    queue: ClassVar[str] = "encode"
    type: Literal["video.assemble"] = "video.assemble"
    video_id: ObjectIdStr
    chunk_count: Annotated[int, Field(ge=1)]

    def key(self) -> str:
        return f"video:{self.video_id}:assemble"


JobKind = Literal["image", "video"]


class WebhookRequested(Message):
    """Upscale / encode → webhooks: a job with a ``callback_url`` ended; deliver its final
    state. ``attempt`` 1 comes from the stage that ended the job; the webhooks stage
    publishes the next attempt itself, delayed by the retry schedule (``publish_later``)."""

    queue: ClassVar[str] = "webhooks"
    type: Literal["webhook.requested"] = "webhook.requested"
    kind: JobKind
    job_id: ObjectIdStr
    status: FinalStatus
    attempt: Annotated[int, Field(ge=1)] = 1

    def key(self) -> str:
        return f"webhook:{self.kind}:{self.job_id}:{self.status}:{self.attempt}"


AnyMessage = Annotated[
    ImageJobSubmitted
    | VideoSubmitted
    | ChunkReady
    | ChunkUpscaled
    | VideoSplit
    | VideoAssemble
    | WebhookRequested,
    Field(discriminator="type"),
]
MESSAGE_TYPES: tuple[type[Message], ...] = (
    ImageJobSubmitted,
    VideoSubmitted,
    ChunkReady,
    ChunkUpscaled,
    VideoSplit,
    VideoAssemble,
    WebhookRequested,
)
_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode()


def decode(body: bytes) -> Message:
    """Parse a message body; a body no consumer can ever handle is a permanent failure."""
    try:
        message: Message = _ADAPTER.validate_json(body)
    except ValueError as exc:
        raise PermanentFailure(f"undecodable message: {exc}") from exc
    return message
