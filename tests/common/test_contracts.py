"""Message contracts: round trips, no pixels, versioning, and the published documents."""

from __future__ import annotations

import json
import typing

import pytest
from pydantic import ValidationError

from common.bus.topology import STAGE_QUEUES
from common.contracts import (
    MESSAGE_TYPES,
    ChunkReady,
    ImageJobSubmitted,
    VideoSplit,
    VideoSubmitted,
    decode,
    encode,
)
from common.errors import PermanentFailure

OID = "65f0c0ffee0123456789abcd"
BLOB = "65f0c0ffee0123456789abce"


def test_round_trip_and_stable_key() -> None:
    msg = ImageJobSubmitted(image_id=OID, user_id=OID, original_blob=BLOB, scale=4)
    again = decode(encode(msg))
    assert again == msg
    assert (
        again.key()
        == ImageJobSubmitted(image_id=OID, user_id=OID, original_blob=BLOB, scale=2).key()
    ), "the key identifies the job, so a re-publish is recognisable"


def test_chunk_keys_differ_per_chunk_and_stage() -> None:
    a = ChunkReady(
        video_id=OID, chunk_index=0, chunk_count=2, chunk_blob=BLOB, frame_count=5, scale=2
    )
    b = a.model_copy(update={"chunk_index": 1})
    assert a.key() != b.key()


def test_every_message_has_a_queue_type_and_version() -> None:
    types = set()
    for model in MESSAGE_TYPES:
        assert model.queue in STAGE_QUEUES
        types.add(model.model_fields["type"].default)
        # A producer writes the newest version its model accepts.
        accepted = typing.get_args(model.model_fields["version"].annotation)
        assert model.model_fields["version"].default == max(accepted)
    assert len(types) == len(MESSAGE_TYPES)


def test_streamed_chunks_are_v2_and_v1_chunks_still_decode() -> None:
    """Decode publishes chunks before it knows their count (v2, chunk_count null); a v1
    message queued by the previous release still decodes, and must carry its count."""
    streamed = ChunkReady(video_id=OID, chunk_index=0, chunk_blob=BLOB, frame_count=5, scale=2)
    assert streamed.version == 2 and streamed.chunk_count is None
    assert decode(encode(streamed)) == streamed
    v1 = {"type": "chunk.ready", "version": 1, "video_id": OID, "chunk_index": 1,
          "chunk_count": 3, "chunk_blob": BLOB, "frame_count": 5, "scale": 2}
    old = decode(json.dumps(v1).encode())
    assert isinstance(old, ChunkReady) and old.version == 1 and old.chunk_count == 3
    v1.pop("chunk_count")
    with pytest.raises(PermanentFailure):
        decode(json.dumps(v1).encode())
    split = VideoSplit(video_id=OID, chunk_count=3, frame_count=15)
    assert decode(encode(split)) == split and split.version == 2
    with pytest.raises(PermanentFailure):  # a newer major version is not guessed at
        decode(json.dumps({**json.loads(encode(split)), "version": 3}).encode())


def test_messages_carry_references_never_pixels() -> None:
    for model in MESSAGE_TYPES:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            assert annotation not in (bytes, bytearray), f"{model.__name__}.{name} carries bytes"
            assert "base64" not in name


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        json.dumps({"type": "image.submitted", "version": 2}).encode(),
        json.dumps({"type": "video.deleted"}).encode(),
    ],
)
def test_undecodable_or_unknown_messages_are_permanent_failures(body: bytes) -> None:
    with pytest.raises(PermanentFailure):
        decode(body)


@pytest.mark.parametrize("scale", [0, 5])
def test_scale_is_bounded(scale: int) -> None:
    with pytest.raises(ValidationError):
        VideoSubmitted(video_id=OID, user_id=OID, original_blob=BLOB, scale=scale)


def test_extra_fields_are_refused() -> None:
    body = json.loads(
        encode(VideoSubmitted(video_id=OID, user_id=OID, original_blob=BLOB, scale=2))
    )
    body["pixels"] = "AAAA"
    with pytest.raises(PermanentFailure):
        decode(json.dumps(body).encode())


def test_model_type_literal_matches_the_manual() -> None:
    from common.contracts import ModelType

    assert set(typing.get_args(ModelType)) == {
        "general_x4",
        "general_x2",
        "anime",
        "anime_video",
        "general_v3",
    }
