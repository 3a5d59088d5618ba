"""The model behind bench/fleet.py: a day of arrivals against a pool of upscale workers.

Time advances in ticks of ``TICK`` s. Images take the priority lane (the ``images`` queue a
worker serves first); a video's chunks are released to the ``upscale`` queue as decode makes
them, at most ``in_flight`` of one video queued or running (VIDEO_CHUNKS_IN_FLIGHT). The
autoscaler is KEDA's rabbitmq scaler over an HPA as deploy/kubernetes/base/autoscaling.yaml
configures it: every ``poll_s`` it wants ceil(ready chunks / 1) or ceil(ready images / 4)
pods, whichever is more, within [min, max]; it adds at most 4 pods a minute, keeps the highest
wish of the last ``stabilize_s`` before removing any, removes one pod per 120 s, and drops to
zero once no message has been ready for ``cooldown_s``. KEDA counts *ready* messages only, so
a pod can be removed while it works: Kubernetes removes the youngest pod, which gets the
SIGTERM grace (30 s) to finish its chunk, else hands it back to be redone. A new pod works
after ``cold_start_s`` and is paid for from its creation to its end.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

TICK = 1.0
DAY = 86_400.0
GRACE_S = 30.0


@dataclass(frozen=True)
class Workload:
    images_per_hour: float
    videos: int
    video_seconds: float
    video_fps: float
    burst_at_s: float
    burst_span_s: float
    chunk_seconds: float
    decode_chunk_s: float  # decode makes one chunk this often per video
    seed: int = 7

    def arrivals(self) -> tuple[list[float], list[float]]:
        rng = random.Random(self.seed)
        images, t = [], 0.0
        while True:
            t += rng.expovariate(self.images_per_hour / 3600)
            if t >= DAY:
                break
            images.append(t)
        videos = sorted(self.burst_at_s + rng.uniform(0, self.burst_span_s)
                        for _ in range(self.videos))
        return images, videos


@dataclass(frozen=True)
class Scaling:
    min_pods: int
    max_pods: int
    poll_s: float = 15.0
    cooldown_s: float = 900.0
    stabilize_s: float = 600.0
    scale_down_every_s: float = 120.0
    scale_up_per_min: int = 4
    cold_start_s: float = 90.0


@dataclass
class Pod:
    created: float
    ready_at: float
    busy_until: float = 0.0
    job: tuple[str, int] | None = None  # ("image", i) or ("chunk", video)
    work_s: float = 0.0


@dataclass
class Result:
    gpu_seconds: float = 0.0
    image_waits: list[float] = field(default_factory=list)
    first_chunk_waits: list[float] = field(default_factory=list)
    redone_s: float = 0.0
    finished_s: float = 0.0
    peak_pods: int = 0
    videos_done: int = 0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0


class Day:
    """One simulated day; ``scaling`` None is a fixed pool of ``fixed`` workers."""

    def __init__(self, load: Workload, fps: float, image_s: float, in_flight: int,
                 scaling: Scaling | None, fixed: int = 0) -> None:
        self.load, self.image_s, self.in_flight, self.scaling = load, image_s, in_flight, scaling
        self.images, self.videos = load.arrivals()
        self.chunk_s = load.chunk_seconds * load.video_fps / fps
        self.chunks_per_video = math.ceil(load.video_seconds / load.chunk_seconds)
        n = len(self.videos)
        self.made, self.released, self.running = [0] * n, [0] * n, [0] * n
        self.started = [False] * n
        self.done_videos = 0
        self.image_q: deque[float] = deque()
        self.chunk_q: deque[int] = deque()
        start = fixed if scaling is None else scaling.min_pods
        self.pods = [Pod(0.0, 0.0) for _ in range(start)]
        self.result = Result()
        self.wishes: deque[tuple[float, int]] = deque()
        self.added: deque[float] = deque()
        self.last_ready = 0.0
        self.last_down = -1e9

    def run(self) -> Result:
        t, next_image = 0.0, 0
        while t < DAY or (self.done_videos < len(self.videos) and t < 3 * DAY):
            while next_image < len(self.images) and self.images[next_image] <= t:
                self.image_q.append(self.images[next_image])
                next_image += 1
            self._decode(t)
            for pod in self.pods:
                if pod.job is not None and pod.busy_until <= t:
                    self._finished(pod, t)
            self._assign(t)
            if self.scaling is not None and t % self.scaling.poll_s < TICK:
                self._autoscale(t, self.scaling)
            self.result.peak_pods = max(self.result.peak_pods, len(self.pods))
            t += TICK
        for pod in self.pods:
            self.result.gpu_seconds += t - pod.created
        return self.result

    def _decode(self, t: float) -> None:
        for v, arrived in enumerate(self.videos):
            if arrived <= t and self.made[v] < self.chunks_per_video:
                made = int((t - arrived) / self.load.decode_chunk_s) + 1
                self.made[v] = min(self.chunks_per_video, made)
            while self.released[v] < self.made[v] and self.running[v] < self.in_flight:
                self.released[v] += 1
                self.running[v] += 1
                self.chunk_q.append(v)

    def _finished(self, pod: Pod, t: float) -> None:
        assert pod.job is not None
        kind, v = pod.job
        pod.job = None
        if kind == "chunk":
            self.running[v] -= 1
            if self.released[v] == self.chunks_per_video and self.running[v] == 0:
                self.done_videos += 1
                self.result.videos_done = self.done_videos
                self.result.finished_s = t

    def _assign(self, t: float) -> None:
        for pod in self.pods:
            if pod.job is not None or pod.ready_at > t:
                continue
            if self.image_q:
                self.result.image_waits.append(t - self.image_q.popleft())
                pod.job, pod.busy_until, pod.work_s = ("image", 0), t + self.image_s, self.image_s
            elif self.chunk_q:
                v = self.chunk_q.popleft()
                if not self.started[v]:
                    self.started[v] = True
                    self.result.first_chunk_waits.append(t - self.videos[v])
                pod.job, pod.busy_until, pod.work_s = ("chunk", v), t + self.chunk_s, self.chunk_s

    def _stop(self, pod: Pod, t: float) -> None:
        """SIGTERM: the pod finishes its message within the grace, or hands it back."""
        end = t
        if pod.job is not None:
            left = pod.busy_until - t
            if left <= GRACE_S:
                end = pod.busy_until
                self._finished(pod, end)
            else:
                end = t + GRACE_S
                self.result.redone_s += pod.work_s - left
                if pod.job[0] == "chunk":
                    self.chunk_q.appendleft(pod.job[1])  # still in flight: redelivered
                else:
                    self.image_q.appendleft(t)
        self.result.gpu_seconds += end - pod.created
        self.pods.remove(pod)

    def _autoscale(self, t: float, s: Scaling) -> None:
        chunks, images = len(self.chunk_q), len(self.image_q)
        if chunks or images:
            self.last_ready = t
        elif self.pods and s.min_pods == 0 and t - self.last_ready >= s.cooldown_s:
            for pod in list(self.pods):  # KEDA deactivates the target: replicas 0
                self._stop(pod, t)
            return
        wish = max(s.min_pods, min(s.max_pods, max(chunks, math.ceil(images / 4))))
        self.wishes.append((t, wish))
        while self.wishes[0][0] < t - s.stabilize_s:
            self.wishes.popleft()
        while self.added and self.added[0] < t - 60:
            self.added.popleft()
        if wish > len(self.pods):
            room = s.scale_up_per_min - len(self.added)
            for _ in range(max(0, min(room, wish - len(self.pods)))):
                self.pods.append(Pod(t, t + s.cold_start_s))
                self.added.append(t)
            return
        keep = max(w for _, w in self.wishes)
        if keep < len(self.pods) and len(self.pods) > max(1, s.min_pods) and \
                t - self.last_down >= s.scale_down_every_s:
            # A ReplicaSet removes its youngest pod first, busy or not.
            self._stop(max(self.pods, key=lambda p: p.created), t)
            self.last_down = t
