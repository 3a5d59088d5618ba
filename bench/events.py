"""How soon a job's end reaches its webhook, and a progress update its event stream.

* webhook latency: from the job's final database update (what the ending stage writes) to
  the receiver's having the signed POST, through the real ``webhooks`` stage on the chosen
  bus (``--bus rabbitmq`` goes through the broker at AMQP_URL). Baseline, same run: a bare
  POST of the same body to the same receiver (the floor any delivery pays).
* SSE lag: from a database update of a running video to the client's having the event, over
  real HTTP (uvicorn) with ``EVENTS_POLL_SECONDS`` (default 0.5). Baseline, same run and same
  updates: a client polling ``GET /api/videos/{id}`` every 0.5 s (the SDK's fallback polls
  every 1 s), which also learns of a change only at its next request.

Everything runs in this process against a SecantusDB server it starts (or MONGO_URL), as the
embedded service does. Reproduce:
    .venv/bin/python bench/events.py [--runs 30] [--bus memory|rabbitmq] [--poll 0.5]
The last line is ``webhook_ms p50=.. p95=.. | bare_post_ms p50=.. | sse_lag_ms p50=.. p95=.. |
poll_lag_ms p50=.. p95=..``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from bson import ObjectId  # noqa: E402

from bench._results import start  # noqa: E402
from bench._support.bus import eventually  # noqa: E402
from bench._support.service import free_port  # noqa: E402
from bench._support.webhooks import receiver  # noqa: E402
from common.bus import Bus, MemoryBus, RabbitBus  # noqa: E402
from common.runtime import Runtime  # noqa: E402
from common.settings import Settings  # noqa: E402
from common.store import SecantusServer, Store  # noqa: E402
from common.store.ids import utcnow  # noqa: E402
from common.webhooks.notify import notify_finished  # noqa: E402
from ingress.app import create_app  # noqa: E402
from pipeline.runner import start_stages, stop_stages  # noqa: E402
from pipeline.webhooks.stage import STAGE as WEBHOOKS  # noqa: E402

SECRET = "bench-" + "k" * 40


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50={statistics.median(ordered):.1f} p95={p95:.1f} max={ordered[-1]:.1f}"


async def webhook_latency(runtime: Runtime, user: ObjectId, runs: int) -> tuple[list[float],
                                                                                list[float]]:
    delivered, bare = [], []
    with receiver() as hook:
        async with httpx.AsyncClient() as http:
            for _ in range(runs):
                image_id = ObjectId()
                await runtime.store.images.insert_one({
                    "_id": image_id, "user_id": user, "status": "processing",
                    "model_type": "anime_video", "callback_url": hook.url,
                    "created_at": utcnow(), "updated_at": utcnow()})
                count = hook.count()
                started = time.time()
                await runtime.store.images.update_one(  # the ending stage's final update
                    {"_id": image_id}, {"$set": {"status": "completed", "completed_at": utcnow()}})
                await notify_finished(runtime, "image", image_id)
                # (the receiver stamps the arrival itself: the wait's granularity is no error)
                await eventually(lambda: hook.count() > count)  # noqa: B023
                delivered.append((hook.received[-1].at - started) * 1000)
                body = hook.received[-1].body
                started = time.time()
                await http.post(hook.url, content=body)
                bare.append((hook.received[-1].at - started) * 1000)
    return delivered, bare


async def sse_lag(runtime: Runtime, url: str, headers: dict[str, str], video_id: str,
                  runs: int, poll: float) -> tuple[list[float], list[float]]:
    """(SSE lags, polling lags) in ms for ``runs`` updates, both clients watching at once."""
    videos = runtime.store.videos
    streamed: dict[int, float] = {}
    polled: dict[int, float] = {}

    async def follow(http: httpx.AsyncClient) -> None:
        async with http.stream("GET", f"/api/videos/{video_id}/events", headers=headers) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    frames = json.loads(line[6:])["frames_processed"]
                    streamed.setdefault(frames, time.time())

    async def poller(http: httpx.AsyncClient) -> None:
        while True:
            got = await http.get(f"/api/videos/{video_id}?include_base64=false",
                                 headers=headers)
            polled.setdefault(got.json()["video"]["frames_processed"], time.time())
            await asyncio.sleep(poll)

    updated: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        clients = [asyncio.create_task(follow(http)), asyncio.create_task(poller(http))]
        await asyncio.sleep(1.0)
        for n in range(1, runs + 1):
            updated[n] = time.time()
            await videos.update_one({"_id": ObjectId(video_id)},
                                    {"$set": {"frames_processed": n, "updated_at": utcnow()}})
            # Updates land at a phase unrelated to either client's interval.
            await asyncio.sleep(poll * 2 + 0.137)
        await asyncio.sleep(poll * 2)
        for task in clients:
            task.cancel()
    missing = [n for n in updated if n not in streamed or n not in polled]
    assert not missing, f"updates never seen: {missing}"
    return ([(streamed[n] - updated[n]) * 1000 for n in updated],
            [(polled[n] - updated[n]) * 1000 for n in updated])


async def main(args: argparse.Namespace) -> None:
    run = start("events", args)
    server = None
    url = os.environ.get("MONGO_URL", "")
    if not url:
        server = SecantusServer(Path(tempfile.mkdtemp(prefix="bench-events-")) / "db")
        await server.start()
        url = server.url
    store = await Store.connect(url, f"bench_{uuid.uuid4().hex[:8]}")
    await store.ensure_indexes()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    bus: Bus = (RabbitBus(os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
                          namespace=namespace) if args.bus == "rabbitmq"
                else MemoryBus(namespace=namespace))
    await bus.start()
    settings = Settings(_env_file=None, jwt_secret_key=SECRET,  # type: ignore[call-arg]
                        webhook_allow_networks=("127.0.0.0/8",), events_poll_seconds=args.poll)
    runtime = Runtime(settings=settings, store=store, bus=bus, embedded=True)
    workers = await start_stages(runtime, [WEBHOOKS])
    app = create_app(runtime, jwt_secret=SECRET)
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                        log_level="warning"))
    serving = asyncio.create_task(web.serve())
    try:
        await eventually(lambda: web.started)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            await http.post("/api/auth/register", json={
                "username": "bench", "email": "bench@ejemplo.com", "password": "benchpass1"})
            tokens = (await http.post("/api/auth/login", json={
                "email": "bench@ejemplo.com", "password": "benchpass1"})).json()["tokens"]
            me = (await http.get("/api/auth/me", headers={
                "Authorization": f"Bearer {tokens['access_token']}"})).json()["user"]["id"]
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        delivered, bare = await webhook_latency(runtime, ObjectId(me), args.runs)
        video_id = ObjectId()
        await store.videos.insert_one({
            "_id": video_id, "user_id": ObjectId(me), "status": "in_progress",
            "frames_processed": 0, "frame_count": 10_000, "started_at": utcnow(),
            "created_at": utcnow(), "updated_at": utcnow(), "model_type": "anime_video"})
        lags, polled = await sse_lag(runtime, base, headers, str(video_id), args.runs,
                                     args.poll)
    finally:
        app.state.events.close()
        web.should_exit = True
        await serving
        await stop_stages(workers)
        await bus.close()
        await store.drop_database()
        await store.close()
        if server is not None:
            await server.stop()
    print(f"bus={args.bus} runs={args.runs} EVENTS_POLL_SECONDS={args.poll}")
    print(f"webhook delivery after completion (ms): {summary(delivered)}")
    print(f"bare POST of the same body (ms):        {summary(bare)}")
    print(f"SSE event after a database update (ms): {summary(lags)}")
    print(f"polling GET every {args.poll:g} s (ms):         {summary(polled)}")
    line = (f"webhook_ms p50={statistics.median(delivered):.1f} "
            f"p95={sorted(delivered)[int(0.95 * (len(delivered) - 1))]:.1f} | "
            f"bare_post_ms p50={statistics.median(bare):.1f} | "
            f"sse_lag_ms p50={statistics.median(lags):.1f} "
            f"p95={sorted(lags)[int(0.95 * (len(lags) - 1))]:.1f} | "
            f"poll_lag_ms p50={statistics.median(polled):.1f} "
            f"p95={sorted(polled)[int(0.95 * (len(polled) - 1))]:.1f}")
    print(line)
    run.finish({"webhook_ms": delivered, "bare_post_ms": bare, "sse_lag_ms": lags,
                "poll_lag_ms": polled}, line)
    print("reproduce: .venv/bin/python bench/events.py "
          f"--runs {args.runs} --bus {args.bus} --poll {args.poll:g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--bus", choices=("memory", "rabbitmq"), default="memory")
    parser.add_argument("--poll", type=float, default=0.5)
    asyncio.run(main(parser.parse_args()))
