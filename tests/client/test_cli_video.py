"""``enhancer video`` / ``enhancer wait``: a live bar to 100 %, a playable result, and a
job that outlives network failures (real dropped connections through ``FlakyRelay``)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import ENHANCER, Account, Cli
from tests.client.proxy import FlakyRelay
from tests.common.media.clips import make_clip
from tests.embedded import Service
from tests.image_models import MISSING_MODEL
from tests.ingress.video_clips import count_frames


def frames_of(path: Path) -> tuple[int, int, int]:
    return count_frames(path.read_bytes())


def test_video_with_a_bar_to_the_end(cli: Cli, logged_in: Account, tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", frames=24, gop=8)
    done = cli("video", "clip.mp4", "--model", "anime_video", "--scale", "2", "-o", "out.mkv")
    assert done.returncode == 0, done.stderr
    assert "24/24 frames" in done.stderr and "100%" in done.stderr
    assert done.stdout.startswith("out.mkv  128x96  24 frames")
    assert frames_of(tmp_path / "out.mkv") == (24, 128, 96)


def test_a_failed_video_exits_1_with_the_services_message(cli: Cli, logged_in: Account,
                                                          tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", frames=8, gop=8)
    failed = cli("video", "clip.mp4", "--model", MISSING_MODEL, "-o", "never.mkv")
    assert failed.returncode == 1
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Error al procesar el video: Modelo general_x2 no disponible: "
                           "faltan sus pesos (RealESRGAN_x2plus.pth)")
    assert not (tmp_path / "never.mkv").exists()


def test_submit_now_collect_later(cli: Cli, logged_in: Account, tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", frames=16, gop=8)
    submitted = cli("video", "clip.mp4", "-m", "anime_video", "-s", "1", "--no-wait", "--json")
    assert submitted.returncode == 0, submitted.stderr
    video = json.loads(submitted.stdout)
    assert (video["status"], video["frame_count"]) == ("pending", 16)
    assert f"enhancer wait {video['id']}" in submitted.stderr

    collected = cli("wait", video["id"], "-o", "later.mkv", "--json")
    assert collected.returncode == 0, collected.stderr
    final = json.loads(collected.stdout)
    assert (final["status"], final["frames_processed"], final["output"]) == (
        "completed", 16, "later.mkv")
    assert frames_of(tmp_path / "later.mkv") == (16, 64, 48)


def test_skip_similar_reaches_the_job(cli: Cli, logged_in: Account, tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", frames=8, gop=8)
    default = cli("video", "clip.mp4", "-m", "anime_video", "-s", "1", "--skip-similar",
                  "--no-wait", "--json")
    given = cli("video", "clip.mp4", "-m", "anime_video", "-s", "1", "--skip-similar", "45",
                "--no-wait", "--json")
    assert default.returncode == given.returncode == 0, default.stderr + given.stderr
    assert json.loads(default.stdout)["skip_similar"] == 40.0
    assert json.loads(given.stdout)["skip_similar"] == 45.0
    collected = cli("wait", json.loads(given.stdout)["id"], "-o", "out.mkv", "--json")
    assert collected.returncode == 0, collected.stderr
    final = json.loads(collected.stdout)
    # Every frame of the clip differs from the last one processed by far more than 45 dB.
    assert (final["status"], final["frames_processed"], final["frames_reused"],
            final["skip_similar"]) == ("completed", 8, 0, 45.0)


@pytest.fixture
def relay(service: Service) -> Iterator[FlakyRelay]:
    port = int(service.url.rsplit(":", 1)[1])
    flaky = FlakyRelay(port)
    yield flaky
    flaky.close()


def test_a_network_blip_is_ridden_out(cli: Cli, account: Account, relay: FlakyRelay,
                                      tmp_path: Path, config_home: Path) -> None:
    assert cli("login", "--email", account.email, "--password-stdin", url=relay.url,
               stdin=account.password + "\n").returncode == 0
    make_clip(tmp_path / "clip.mp4", frames=96, gop=8)
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "ENHANCER_URL": relay.url}
    with subprocess.Popen(
        [str(ENHANCER), "video", "clip.mp4", "-m", "anime_video", "-s", "2", "-o", "out.mkv"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    ) as process:
        assert process.stderr is not None
        stream = process.stderr
        stderr: list[str] = []
        reader = threading.Thread(
            target=lambda: stderr.extend(iter(lambda: stream.read(1), "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while "submitted" not in "".join(stderr):
            assert process.poll() is None and time.monotonic() < deadline, "".join(stderr)
            time.sleep(0.02)
        relay.cut()  # the upload is in; now the network goes away while the CLI waits
        time.sleep(2.5)
        assert relay.dropped > 0
        relay.restore()
        assert process.wait(timeout=240) == 0, "".join(stderr)
        reader.join(timeout=10)
    assert "96/96 frames" in "".join(stderr)
    assert frames_of(tmp_path / "out.mkv") == (96, 128, 96)


def test_a_long_outage_says_how_to_resume(cli: Cli, account: Account, relay: FlakyRelay,
                                          tmp_path: Path) -> None:
    assert cli("login", "--email", account.email, "--password-stdin", url=relay.url,
               stdin=account.password + "\n").returncode == 0
    make_clip(tmp_path / "clip.mp4", frames=16, gop=8)
    submitted = cli("video", "clip.mp4", "-m", "anime_video", "--no-wait", url=relay.url)
    video_id = submitted.stdout.strip()
    relay.cut()
    lost = cli("wait", video_id, "-o", "x.mkv", "--reconnect-for", "0", url=relay.url)
    assert lost.returncode == 4
    assert f"resume with: enhancer wait {video_id} -o x.mkv" in lost.stderr
    relay.restore()
    resumed = cli("wait", video_id, "-o", "x.mkv", url=relay.url)
    assert resumed.returncode == 0, resumed.stderr
    assert frames_of(tmp_path / "x.mkv") == (16, 256, 192)
