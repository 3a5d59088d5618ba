"""Downloading an official weights file: pinned URL, size and SHA-256, atomic, logged.

The bytes stream into a temporary file in the models folder and are renamed into place only
after the size and the hash matched, so a failed or bad transfer leaves nothing behind.
Progress goes to the log (every 10 %) and, for the command line, to a tqdm bar.

A host that could not be reached is not asked again for ``UNREACHABLE_SECONDS`` in this
process: on a machine without internet each model then costs one failed connection, not one
per request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path

import httpx
from tqdm import tqdm

from common.model_status import RETRY_SECONDS
from pipeline.upscale.engine.weights.files import (
    WeightFile,
    atomic_target,
    base_url_of,
    write_record,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
# Connecting is quick or never happens (offline hosts); reading a big file may stall a while.
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
UNREACHABLE_SECONDS = float(RETRY_SECONDS)

_unreachable: dict[str, float] = {}  # base URL -> monotonic time until which it is skipped
_unreachable_lock = threading.Lock()


class DownloadFailed(Exception):
    """The official file could not be fetched (the message says why, with the URL)."""


def _skip_reason(base: str) -> str | None:
    with _unreachable_lock:
        until = _unreachable.get(base)
    if until is None or time.monotonic() >= until:
        return None
    ago = UNREACHABLE_SECONDS - (until - time.monotonic())
    return f"{base} did not answer {ago:.0f} s ago"


def _mark_unreachable(base: str) -> None:
    with _unreachable_lock:
        _unreachable[base] = time.monotonic() + UNREACHABLE_SECONDS


def forget_unreachable() -> None:
    """Ask every host again on the next download (tests, a command run by hand)."""
    with _unreachable_lock:
        _unreachable.clear()


class _Progress:
    """A log line every 10 % (the service's log) and a tqdm bar (the command line)."""

    def __init__(self, wf: WeightFile, bar: bool) -> None:
        self.wf = wf
        self.received = 0
        self.next_tenth = 1
        self.bar = tqdm(total=wf.size, unit="B", unit_scale=True, desc=wf.filename,
                        disable=not bar)

    def update(self, count: int) -> None:
        self.received += count
        self.bar.update(count)
        while self.received * 10 >= self.next_tenth * self.wf.size and self.next_tenth <= 10:
            log.info("downloading %s: %d%% of %.1f MB", self.wf.filename, self.next_tenth * 10,
                     self.wf.size / 1e6)
            self.next_tenth += 1

    def close(self) -> None:
        self.bar.close()


def download(wf: WeightFile, models_dir: Path, *, base_url: str | None = None,
             progress: bool = True) -> Path:
    """Fetch ``wf`` into ``models_dir``, verified, atomically; ``DownloadFailed`` says why not.

    The caller holds ``files.lock`` when other processes may want the same file."""
    base = base_url_of(base_url)
    url = wf.url(base)
    skipped = _skip_reason(base)
    if skipped is not None:
        raise DownloadFailed(f"{url}: not tried ({skipped})")
    dest = models_dir / wf.filename
    log.info("downloading %s (%.1f MB) from %s", wf.filename, wf.size / 1e6, url)
    try:
        with atomic_target(dest) as tmp:
            digest = hashlib.sha256()
            bar = _Progress(wf, progress)
            try:
                with (httpx.stream("GET", url, follow_redirects=True, timeout=TIMEOUT) as resp,
                      tmp.open("wb") as out):
                    resp.raise_for_status()
                    for block in resp.iter_bytes(_CHUNK):
                        if bar.received + len(block) > wf.size:
                            raise ValueError(f"more than the expected {wf.size} bytes")
                        digest.update(block)
                        out.write(block)
                        bar.update(len(block))
            finally:
                bar.close()
            if bar.received != wf.size:
                raise ValueError(f"got {bar.received} bytes, expected {wf.size}")
            if digest.hexdigest() != wf.sha256:
                raise ValueError(f"SHA-256 {digest.hexdigest()} does not match {wf.sha256}")
    except (httpx.TransportError, OSError) as exc:
        # No answer at all: the host is out of reach from here, not just missing one file.
        if isinstance(exc, httpx.TransportError):
            _mark_unreachable(base)
        raise DownloadFailed(f"{url}: {exc or type(exc).__name__}") from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise DownloadFailed(f"{url}: {exc}") from exc
    write_record(dest, "official", url, sha256=wf.sha256)
    log.info("downloaded %s, verified", wf.filename)
    return dest
