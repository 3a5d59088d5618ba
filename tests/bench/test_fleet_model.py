"""bench/fleet_model.py keeps its books: every image and chunk served, the pool within its
bounds, a fixed pool paid all day, an idle autoscaled pool paid nothing."""

from __future__ import annotations

from bench._support.fleet_model import DAY, Day, Scaling, Workload

LOAD = Workload(images_per_hour=20, videos=3, video_seconds=120, video_fps=24,
                burst_at_s=10 * 3600, burst_span_s=600, chunk_seconds=2.0, decode_chunk_s=0.5)


def test_a_fixed_pool_serves_everything_and_is_paid_all_day() -> None:
    images, videos = LOAD.arrivals()
    result = Day(LOAD, fps=15, image_s=1 / 15, in_flight=4, scaling=None, fixed=3).run()
    assert len(result.image_waits) == len(images) > 0
    assert len(result.first_chunk_waits) == result.videos_done == len(videos) == 3
    assert result.gpu_seconds == 3 * DAY and result.peak_pods == 3
    assert min(result.image_waits) >= 0 and result.redone_s == 0


def test_the_autoscaled_pool_stays_within_its_bounds_and_serves_everything() -> None:
    images, videos = LOAD.arrivals()
    scaling = Scaling(min_pods=0, max_pods=5, cold_start_s=60)
    result = Day(LOAD, fps=15, image_s=1 / 15, in_flight=4, scaling=scaling).run()
    assert len(result.image_waits) == len(images)
    assert result.videos_done == len(videos)
    assert 1 <= result.peak_pods <= 5
    # Each cold start is waited for: some image or first chunk waited at least that long.
    assert max(result.image_waits + result.first_chunk_waits) >= 60
    work = (len(images) / 15 + len(videos) * 60 * 48 / 15)  # seconds of upscaling
    assert work <= result.gpu_seconds < 3 * DAY


def test_an_idle_autoscaled_pool_costs_nothing_and_a_pinned_one_matches_the_fixed() -> None:
    idle = Workload(images_per_hour=1e-9, videos=0, video_seconds=60, video_fps=24,
                    burst_at_s=0, burst_span_s=0, chunk_seconds=2.0, decode_chunk_s=0.5)
    result = Day(idle, fps=15, image_s=0.1, in_flight=4, scaling=Scaling(0, 8)).run()
    assert result.gpu_seconds == 0 and result.peak_pods == 0
    pinned = Day(LOAD, 15, 1 / 15, 4, Scaling(min_pods=2, max_pods=2)).run()
    fixed = Day(LOAD, 15, 1 / 15, 4, None, fixed=2).run()
    assert pinned.image_waits == fixed.image_waits
    assert pinned.first_chunk_waits == fixed.first_chunk_waits
    assert pinned.gpu_seconds == fixed.gpu_seconds
