"""``wait`` on a server with ``GET /api/videos/{id}/events``: it follows the stream instead
of polling, resumes a broken stream with ``Last-Event-ID``, and the CLI uses it too.

The route is served by ``events_relay`` (see its docstring) in front of the real service
until the service has its own.
"""

from __future__ import annotations

from pathlib import Path

from enhancer_client import Client, Video

from tests.client.conftest import Account, Cli
from tests.client.events_relay import events_relay
from tests.common.media.clips import make_clip
from tests.embedded import Service
from tests.ingress.video_clips import count_frames


def test_wait_follows_the_event_stream(service: Service, account: Account,
                                       tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=24, gop=8)
    seen: list[Video] = []
    with events_relay(service.url) as (url, relay), \
            Client(url, account.email, account.password, poll_interval=0.1) as api:
        video = api.submit_video(clip, model_type="anime_video", scale=2)
        done = api.wait(video, on_progress=seen.append)
        assert api.events_route.available is True
    assert done.status == "completed" and done.frames_processed == 24
    assert seen[-1].status == "completed"
    counts = [v.frames_processed or 0 for v in seen]
    assert counts == sorted(counts) and counts[-1] == 24
    streams = [s for s in relay.streams if s["video"] == video.id]
    # The first stream ended after one event; the second resumed after it.
    assert streams[0]["last_event_id"] is None
    assert streams[1]["last_event_id"] == "1"


def test_the_cli_uses_the_event_stream(service: Service, account: Account, cli: Cli,
                                       tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", frames=16, gop=8)
    with events_relay(service.url) as (url, relay):
        assert cli("login", "--email", account.email, "--password-stdin", url=url,
                   stdin=account.password + "\n").returncode == 0
        done = cli("video", "clip.mp4", "-m", "anime_video", "-s", "1", "-o", "out.mkv",
                   url=url)
        assert done.returncode == 0, done.stderr
        assert "16/16 frames" in done.stderr
        assert relay.streams, "the CLI did not open the event stream"
    assert count_frames((tmp_path / "out.mkv").read_bytes()) == (16, 64, 48)
