"""Atomic job primitives: transitions that never go backwards, progress counted once."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest
from bson import ObjectId

from common.store import (
    Store,
    add_progress_once,
    add_progress_once_returning,
    get_owned,
    parse_object_id,
    transition,
    utcnow,
)

ROOT = Path(__file__).resolve().parents[3]


async def _job(store: Store, status: str = "pending", **fields: object) -> ObjectId:
    doc = {"user_id": "u1", "status": status, "created_at": utcnow(), **fields}
    return (await store.videos.insert_one(doc)).inserted_id


def test_parse_object_id() -> None:
    oid = ObjectId()
    assert parse_object_id(str(oid)) == oid
    assert parse_object_id(oid) is oid
    for bad in ["", "nope", "0" * 23, "g" * 24, "abcdefghijkl", b"abcdefghijkl", None, 42]:
        assert parse_object_id(bad) is None


async def test_get_owned(store: Store) -> None:
    job = await _job(store)
    assert (await get_owned(store.videos, str(job), "u1") or {})["_id"] == job
    assert await get_owned(store.videos, str(job), "someone-else") is None
    assert await get_owned(store.videos, str(ObjectId()), "u1") is None
    assert await get_owned(store.videos, "not-an-id", "u1") is None


async def test_transition_moves_forward_only(store: Store) -> None:
    job = await _job(store)
    assert await transition(store.videos, job, ["pending"], "processing", {"started_at": utcnow()})
    # A late duplicate of the first message cannot restart it...
    assert not await transition(store.videos, job, ["pending"], "processing")
    assert await transition(store.videos, str(job), ["processing"], "completed", {"result": "b1"})
    # ...and nothing moves a finished job back.
    assert not await transition(store.videos, job, ["pending", "processing"], "failed")
    doc = await store.videos.find_one({"_id": job})
    assert doc is not None
    assert doc["status"] == "completed" and doc["result"] == "b1" and "started_at" in doc
    assert doc["updated_at"].tzinfo is not None


async def test_transition_rejects_bad_arguments(store: Store) -> None:
    job = await _job(store)
    with pytest.raises(ValueError):
        await transition(store.videos, job, ["pending"], "processing", {"status": "x"})
    with pytest.raises(TypeError):
        await transition(store.videos, job, "pending", "processing")
    assert not await transition(store.videos, "malformed", ["pending"], "processing")
    assert not await transition(store.videos, ObjectId(), ["pending"], "processing")


async def test_concurrent_transitions_have_one_winner(store: Store) -> None:
    job = await _job(store)
    results = await asyncio.gather(
        *(transition(store.videos, job, ["pending"], f"worker{i}") for i in range(20))
    )
    assert sum(results) == 1
    doc = await store.videos.find_one({"_id": job})
    assert doc is not None and doc["status"] == f"worker{results.index(True)}"


async def test_progress_counts_each_key_once(store: Store) -> None:
    job = await _job(store, frames=0)
    assert await add_progress_once(store.videos, job, 0, "frames", 24)
    assert not await add_progress_once(store.videos, job, 0, "frames", 24)  # redelivery
    assert await add_progress_once(store.videos, str(job), "chunk-1", "frames", 10)
    # Each counter keeps its own keys: key 0 is new for "encoded".
    assert await add_progress_once(store.videos, job, 0, "encoded", 1)
    doc = await store.videos.find_one({"_id": job})
    assert doc is not None
    assert doc["frames"] == 34 and doc["encoded"] == 1
    assert sorted(map(str, doc["done"]["frames"])) == ["0", "chunk-1"]


async def test_progress_concurrent_duplicates_count_once(store: Store) -> None:
    job = await _job(store, frames=0)
    calls = [
        add_progress_once(store.videos, job, k, "frames", 1) for k in range(10) for _ in range(20)
    ]
    random.Random(1).shuffle(calls)
    results = await asyncio.gather(*calls)
    assert sum(results) == 10
    doc = await store.videos.find_one({"_id": job})
    assert doc is not None and doc["frames"] == 10


async def test_progress_guarded_by_state(store: Store) -> None:
    job = await _job(store, status="failed", frames=0)
    assert not await add_progress_once(store.videos, job, 1, "frames", 5, in_states=["processing"])
    assert not await add_progress_once(store.videos, "bad-id", 1, "frames", 5)
    with pytest.raises(TypeError):
        await add_progress_once(store.videos, job, True, "frames", 5)


async def test_progress_returning_tells_the_last_one(store: Store) -> None:
    job = await _job(store, status="processing", chunks_total=3, chunks_done=0)
    seen = []
    for key in [0, 1, 1, 2]:
        doc = await add_progress_once_returning(
            store.videos, job, key, "chunks_done", 1, in_states=["processing"]
        )
        seen.append(None if doc is None else doc["chunks_done"])
    assert seen == [1, 2, None, 3]


async def test_progress_across_processes_is_exact(store: Store, mongo_url: str) -> None:
    """4 OS processes × 250 distinct keys, each key also replayed by a neighbour: 1000."""
    job = await _job(store, frames=0)
    workers, per_worker = 4, 250
    procs = []
    for w in range(workers):
        own = list(range(w * per_worker, (w + 1) * per_worker))
        replay = [(k + per_worker) % (workers * per_worker) for k in own]  # neighbour's keys
        keys = [k for pair in zip(own, replay, strict=True) for k in pair]
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.common.store.progress_worker",
                mongo_url, store.db.name, str(job), *map(str, keys),
                cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )
        )  # fmt: skip
    for proc in procs:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
    outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    assert all(p.returncode == 0 for p in procs), outputs
    counted = sum(int(out.split()[-1]) for out, _ in outputs)
    doc = await store.videos.find_one({"_id": job})
    assert doc is not None
    assert doc["frames"] == workers * per_worker == counted
    assert sorted(doc["done"]["frames"]) == list(range(workers * per_worker))
