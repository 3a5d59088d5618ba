"""The embedded service stopped mid-chunk and started again resumes every job (issue 23).

Real processes and real media: ``python main.py`` with its own ``DATA_DIR`` (a spawned
SecantusDB, the durable bus, every stage), a Big Buck Bunny excerpt cut into several chunks,
an image still in the model, and a webhook whose retry was scheduled before the stop. The
service is stopped while the upscale stage is inside a chunk, by SIGTERM, by SIGKILL of the
main process only, or by SIGKILL of every process (a power cut: the database too), then
started again on the same ``data/``. Everything must end as if nothing had happened: the
video complete with every frame once at its own time and the audio packets unchanged,
``frames_processed`` never lower than before the stop, chunks finished before it not
upscaled again, the image complete, the webhook retry delivered after the restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId

from bench._support.webhooks import receiver
from common.bus import DatabaseBus
from common.contracts import encode
from common.settings import load_settings
from common.store import SecantusServer, Store
from tests.common.media.clips import (
    MS,
    audio_packets_md5,
    frame_times,
    small_bigbuckbunny,
    timing_error,
)
from tests.embedded import free_port, wait_healthy
from tests.image_models import OFFLINE_WEIGHTS, image_models, private_copy
from tests.image_samples import photo
from tests.pipeline.upscale.test_image_jobs import create_image

__all__ = ["image_models"]

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "mipassword123"
RETRY_DELAY = 6.0  # the webhook's retry, scheduled before the stop, due after the restart


@dataclass
class Embedded:
    """One ``python main.py`` at a time on a fixed port and data directory."""

    tmp: Path
    env: dict[str, str]
    url: str
    runs: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def log(self, run: int | None = None) -> str:
        return (self.tmp / f"service-{self.runs if run is None else run}.log").read_text(
            errors="replace")

    def start(self) -> None:
        self.runs += 1
        with (self.tmp / f"service-{self.runs}.log").open("wb") as sink:
            # Its own process group, so a power cut can take the group at once.
            self.proc = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=self.env,
                                         stdout=sink, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        wait_healthy(self.proc, self.url, self.tmp / f"service-{self.runs}.log", 120)

    def stop(self, how: str) -> None:
        proc = self.proc
        assert proc is not None
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, self.log()[-3000:]
            return
        database = database_pids(self.tmp / "data")
        assert database, "the embedded database is not running"
        if how == "kill-main":
            proc.kill()
        else:  # a power cut: every process of the service at the same instant
            os.killpg(proc.pid, signal.SIGKILL)
            for pid in database:
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def database_pids(data_dir: Path) -> list[int]:
    """The SecantusDB processes storing into ``data_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"secantusd_launcher.py" in b" ".join(command) and \
                    str(data_dir / "db").encode() in command:
                found.append(int(entry.name))
    return found


@pytest.fixture
def service(tmp_path: Path, image_models: Path) -> Iterator[Embedded]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "AMQP_URL")}
    env.update(API_PORT=str(port), API_HOST="127.0.0.1", DATA_DIR=str(tmp_path / "data"),
               MODELS_DIR=str(private_copy(image_models, tmp_path)), JWT_SECRET_KEY="",
               LOG_LEVEL="INFO", USE_GPU="false", VIDEO_CHUNK_SECONDS="0.4",
               VIDEO_CHUNKS_IN_FLIGHT="2", IMAGE_WAIT_SECONDS="0.5",
               WEBHOOK_ALLOW_NETWORKS="127.0.0.0/8", WEBHOOK_RETRY_DELAYS=str(RETRY_DELAY),
               **OFFLINE_WEIGHTS)
    running = Embedded(tmp_path, env, f"http://127.0.0.1:{port}")
    try:
        yield running
    finally:
        running.close()


def sign_up(http: httpx.Client) -> dict[str, str]:
    account = {"username": "reanuda", "email": "reanuda@ejemplo.com", "password": PASSWORD}
    assert http.post("/api/auth/register", json=account).status_code == 201
    login = http.post("/api/auth/login", json={"email": account["email"],
                                                "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}


def until(what: str, condition: Any, within: float, service: Embedded) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {within} s\n{service.log()[-4000:]}")


def chunks_done(log: str, video_id: str) -> set[int]:
    return {int(n) for n in re.findall(rf"video:{video_id}:chunk:(\d+):ready done", log)}


def inside_a_chunk(log: str, video_id: str) -> bool:
    started = re.findall(rf"video:{video_id}:chunk:(\d+):ready started", log)
    return bool(set(map(int, started)) - chunks_done(log, video_id))


@pytest.mark.parametrize("how", ["sigterm", "kill-main", "power-cut"])
def test_a_stopped_service_resumes_every_job(service: Embedded, tmp_path: Path,
                                             how: str) -> None:
    source = small_bigbuckbunny(tmp_path / "bbb.mkv", seconds=2.0, size=(256, 144))
    service.start()
    with receiver(answers=[500]) as hook, httpx.Client(base_url=service.url, timeout=30) as http:
        headers = sign_up(http)
        # A small image whose webhook fails once: its retry waits RETRY_DELAY in the bus.
        hooked = submit_image(http, headers, photo(48, 48), callback=hook.url)
        until("the webhook's first attempt", lambda: hook.count() == 1, 60, service)
        video = http.post("/api/videos/enhance", headers=headers,
                          files={"file": ("bbb.mkv", source.read_bytes(), "video/x-matroska")},
                          data={"model_type": "anime_video", "scale": "2"})
        assert video.status_code == 202, video.text
        video_id = video.json()["video"]["id"]
        until("a chunk in the model", lambda: inside_a_chunk(service.log(), video_id), 120,
              service)
        # An image accepted before the stop, still in the model when it comes.
        pending = submit_image(http, headers, photo(160, 160), model="general_x4")
        before = http.get(f"/api/videos/{video_id}", headers=headers).json()["video"]
        finished_before = chunks_done(service.log(), video_id)
        service.stop(how)
        stopped_at = time.time()

        service.start()
        assert not database_pids_twice(service)
        done = until("the video to complete", lambda: settled(http, headers, video_id), 300,
                     service)
        assert done["status"] == "completed", done
        assert done["frames_processed"] >= before["frames_processed"]
        image = until("the image to complete", lambda: image_settled(http, headers, pending),
                      120, service)
        assert image["status"] == "completed", image
        retried = until("the webhook's retry", lambda: hook.accepted(), 60, service)
        assert retried[0].at > stopped_at and retried[0].json["id"] == f"image:{hooked}:completed"

    # Chunks finished before the stop were not upscaled again.
    assert not finished_before & started_chunks(service.log(2), video_id)
    output = tmp_path / "out.mkv"
    with httpx.Client(base_url=service.url, timeout=30) as http:
        result = http.get(f"/api/videos/{video_id}/enhanced", headers=headers)
        assert result.status_code == 200, result.text
    output.write_bytes(result.content)
    times = frame_times(output)
    assert len(times) == len(set(times)) == len(frame_times(source))
    assert done["frames_processed"] == done["frame_count"] == len(times)
    assert timing_error(source, output) <= MS
    assert audio_packets_md5(output) == audio_packets_md5(source)


def started_chunks(log: str, video_id: str) -> set[int]:
    return {int(n) for n in re.findall(rf"video:{video_id}:chunk:(\d+):ready started", log)}


def database_pids_twice(service: Embedded) -> bool:
    """More than one database on the data directory (an orphan beside the new one)."""
    return len(database_pids(service.tmp / "data")) > 1


def submit_image(http: httpx.Client, headers: dict[str, str], png: bytes, *,
                 model: str = "anime_video", callback: str | None = None) -> str:
    data = {"model_type": model, "scale": "2"}
    if callback:
        data["callback_url"] = callback
    answer = http.post("/api/images/enhance", headers=headers,
                       files={"file": ("foto.png", png, "image/png")}, data=data)
    assert answer.status_code in (201, 202), answer.text
    return str(answer.json()["image"]["id"])


def settled(http: httpx.Client, headers: dict[str, str], video_id: str) -> Any:
    doc = http.get(f"/api/videos/{video_id}", headers=headers).json()["video"]
    return doc if doc["status"] in ("completed", "error") else None


def image_settled(http: httpx.Client, headers: dict[str, str], image_id: str) -> Any:
    doc = http.get(f"/api/images/{image_id}", headers=headers).json()["image"]
    return doc if doc["status"] in ("completed", "failed") else None


def test_a_job_whose_messages_were_lost_is_redriven_by_the_watchdog(
        service: Embedded, tmp_path: Path) -> None:
    """The service stopped mid-chunk, then every stored message of the video removed by hand
    (a wiped queue): the watchdog of the next start finds the quiet job with no message and
    re-drives it from what is stored; chunks upscaled before are reused, the output exact."""
    # Short message limits, so the job counts as stalled within a minute (1.1 × 32 s).
    service.env.update(BUS_CONSUMER_TIMEOUT_SECONDS="40", WATCHDOG_INTERVAL_SECONDS="1")
    source = small_bigbuckbunny(tmp_path / "bbb.mkv", seconds=2.0, size=(256, 144))
    service.start()
    with httpx.Client(base_url=service.url, timeout=30) as http:
        headers = sign_up(http)
        video = http.post("/api/videos/enhance", headers=headers,
                          files={"file": ("bbb.mkv", source.read_bytes(), "video/x-matroska")},
                          data={"model_type": "anime_video", "scale": "2"})
        video_id = video.json()["video"]["id"]
        until("a chunk in the model", lambda: inside_a_chunk(service.log(), video_id), 120,
              service)
        service.stop("sigterm")
        assert remove_messages(tmp_path / "data", video_id) > 0
        service.start()
        done = until("the video to complete", lambda: settled(http, headers, video_id), 300,
                     service)
        assert done["status"] == "completed", done
        assert "re-driven" in service.log(2)
        result = http.get(f"/api/videos/{video_id}/enhanced", headers=headers)
    output = tmp_path / "out.mkv"
    output.write_bytes(result.content)
    assert len(frame_times(output)) == done["frame_count"] == done["frames_processed"]
    assert timing_error(source, output) <= MS
    assert audio_packets_md5(output) == audio_packets_md5(source)


def remove_messages(data_dir: Path, job_id: str) -> int:
    """Delete every stored message of ``job_id`` from the stopped service's database."""
    from pymongo import MongoClient

    with SecantusServer(data_dir / "db") as server:
        client: MongoClient[dict[str, Any]] = MongoClient(server.url, directConnection=True)
        try:
            messages = client[load_settings().mongo_db]["bus_messages"]
            return messages.delete_many({"headers.job": job_id}).deleted_count
        finally:
            client.close()


def test_a_message_stored_by_the_previous_release_is_handled_after_an_upgrade(
        service: Embedded) -> None:
    """A v1 ``image.submitted`` on the queue the previous release published images to
    (``upscale``, not today's ``images`` lane), stored while the service was stopped, is
    handled by the new one when it starts."""
    service.start()
    with httpx.Client(base_url=service.url, timeout=30) as http:
        headers = sign_up(http)
        user = ObjectId(http.get("/api/auth/me", headers=headers).json()["user"]["id"])
        service.stop("sigterm")
        image_id = asyncio.run(store_old_message(service.tmp / "data", user))
        service.start()
        image = until("the old message's image", lambda: image_settled(http, headers, image_id),
                      120, service)
    assert image["status"] == "completed", image
    assert (image["enhanced_width"], image["enhanced_height"]) == (64, 64)


async def store_old_message(data_dir: Path, user: ObjectId) -> str:
    """An image job as the API stores it, and its message in the v1 shape on the old queue."""
    server = SecantusServer(data_dir / "db")
    await server.start()
    try:
        store = await Store.connect(server.url, load_settings().mongo_db, retry_seconds=10)
        try:
            job = await create_image(store, photo(32, 32), model_type="anime_video", user=user)
            body = json.loads(encode(job))
            assert body["version"] == 1
            await DatabaseBus(store.db).publish("upscale", json.dumps(body).encode(),
                                                message_id=job.key())
            return job.image_id
        finally:
            await store.close()
    finally:
        await server.stop()
