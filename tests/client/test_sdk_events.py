"""``wait`` follows the service's real ``GET /api/videos/{id}/events`` instead of polling,
reconnects (with ``Last-Event-ID``) through a dropped connection, and the CLI uses it too."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from enhancer_client import Client, Video

from tests.client.conftest import Account, Cli
from tests.client.proxy import FlakyRelay
from tests.common.media.clips import make_clip
from tests.embedded import Service
from tests.ingress.video_clips import count_frames


def test_wait_follows_the_event_stream(service: Service, account: Account,
                                       tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=24, gop=8)
    seen: list[Video] = []
    with Client(service.url, account.email, account.password, poll_interval=0.1) as api:
        video = api.submit_video(clip, model_type="anime_video", scale=2)
        done = api.wait(video, on_progress=seen.append)
        assert api.events_route.available is True
    assert done.status == "completed" and done.frames_processed == 24
    assert seen[-1].status == "completed"
    counts = [v.frames_processed or 0 for v in seen]
    assert counts == sorted(counts) and counts[-1] == 24
    assert seen[0].status in ("pending", "in_progress"), "events before the end, too"


def test_a_dropped_stream_is_resumed(service: Service, account: Account,
                                     tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=48, gop=8)
    relay = FlakyRelay(int(service.url.rsplit(":", 1)[1]))
    seen: list[Video] = []
    cut = threading.Event()

    def progress(video: Video) -> None:
        seen.append(video)
        if not cut.is_set() and (video.frames_processed or 0) > 0:
            cut.set()  # the first counted chunk: drop every connection, then come back
            relay.cut()
            threading.Timer(0.5, relay.restore).start()

    try:
        with Client(relay.url, account.email, account.password, poll_interval=0.1,
                    reconnect_for=60) as api:
            video = api.submit_video(clip, model_type="anime_video", scale=1)
            done = api.wait(video, on_progress=progress)
    finally:
        relay.close()
    assert cut.is_set() and relay.dropped >= 1
    assert done.status == "completed" and done.frames_processed == 48
    counts = [v.frames_processed or 0 for v in seen]
    assert counts == sorted(counts), "a resumed stream never goes back"


def test_the_cli_uses_the_event_stream(service: Service, account: Account, cli: Cli,
                                       tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", frames=16, gop=8)
    assert cli("login", "--email", account.email, "--password-stdin",
               stdin=account.password + "\n").returncode == 0
    done = cli("video", "clip.mp4", "-m", "anime_video", "-s", "1", "-o", "out.mkv")
    assert done.returncode == 0, done.stderr
    assert "16/16 frames" in done.stderr
    (video_id,) = set(re.findall(r"\b[0-9a-f]{24}\b", done.stderr))
    assert f"GET /api/videos/{video_id}/events HTTP/1.1\" 200" in service.log.read_text()
    assert count_frames((tmp_path / "out.mkv").read_bytes()) == (16, 64, 48)
