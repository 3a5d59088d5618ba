"""``enhancer image``: many files, N uploads at a time, one progress bar, resumable.

An output that already exists is skipped, so running the same command again after an
interruption does only what is left. Results are written to a temporary name and renamed,
so a half-written file never passes for a finished one.
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from enhancer_client.cli import output as out
from enhancer_client.errors import (
    ApiError,
    AuthError,
    ConnectionFailed,
    EnhancerError,
    JobFailedError,
)
from enhancer_client.sync import Client

# Picked up from folders; files named explicitly are sent whatever they are (the service
# recognises formats by content and answers what it refuses).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}


class UsageError(Exception):
    pass


@dataclass
class Outcome:
    file: str
    status: str  # done, skipped, failed
    output: str | None = None
    id: str | None = None
    width: int | None = None
    height: int | None = None
    seconds: float | None = None
    error: str | None = None
    http_status: int | None = None
    exit_code: int = out.OK


def collect(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {raw}")
    if not files:
        raise UsageError("no images found in " + " ".join(paths))
    return files


def plan_outputs(files: list[Path], out_dir: Path, fmt: str) -> list[tuple[Path, Path]]:
    pairs: list[tuple[Path, Path]] = []
    owners: dict[Path, Path] = {}
    for source in files:
        dest = out_dir / f"{source.stem}.{EXTENSIONS[fmt]}"
        if dest in owners and owners[dest] != source.resolve():
            raise UsageError(f"{owners[dest]} and {source} would both be written to {dest}")
        owners[dest] = source.resolve()
        pairs.append((source, dest))
    return list(dict.fromkeys(pairs))


def run(api: Client, args: argparse.Namespace) -> int:
    fmt = args.format or "png"
    pairs = plan_outputs(collect(args.paths), Path(args.output), fmt)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    outcomes: dict[Path, Outcome] = {}
    todo = []
    for source, dest in pairs:
        if dest.exists() and not args.overwrite:
            outcomes[source] = Outcome(str(source), "skipped", output=str(dest))
        else:
            todo.append((source, dest))
    stop = threading.Event()
    quiet = args.quiet or args.json
    with tqdm(total=len(todo), unit="img", desc="images", disable=quiet or not todo,
              dynamic_ncols=True) as bar, ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures: dict[Future[Outcome], Path] = {
            pool.submit(_enhance_one, api, source, dest, fmt, args, stop): source
            for source, dest in todo}
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION, timeout=0.5)
                for future in finished:
                    outcomes[futures[future]] = future.result()  # AuthError ends the batch
                    bar.update(1)
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise
    results = [outcomes[source] for source, _ in pairs if source in outcomes]
    _report(results, args.json)
    return max((r.exit_code for r in results), default=out.OK,
               key=lambda code: _SEVERITY.get(code, 0))


_SEVERITY = {out.OK: 0, out.JOB_FAILED: 1, out.NOT_FOUND: 2, out.UNAVAILABLE: 3}


def _enhance_one(api: Client, source: Path, dest: Path, fmt: str, args: argparse.Namespace,
                 stop: threading.Event) -> Outcome:
    if stop.is_set():
        return Outcome(str(source), "failed", error="cancelled", exit_code=out.INTERRUPTED)
    started = time.monotonic()
    try:
        image = api.enhance_image(source, model_type=args.model, scale=args.scale,
                                  output_width=args.width, output_height=args.height,
                                  face_enhance=args.face or None, output_format=args.format)
        api.download(image, dest)
    except AuthError:
        raise
    except (JobFailedError, ApiError, ConnectionFailed) as exc:
        return _failed(source, exc)
    except OSError as exc:  # unreadable input, unwritable output: this file only
        return Outcome(str(source), "failed", error=str(exc), exit_code=out.JOB_FAILED)
    return Outcome(str(source), "done", output=str(dest), id=image.id,
                   width=image.enhanced_width, height=image.enhanced_height,
                   seconds=round(time.monotonic() - started, 2))


def _failed(source: Path, exc: EnhancerError) -> Outcome:
    return Outcome(str(source), "failed", error=getattr(exc, "message", str(exc)),
                   http_status=getattr(exc, "status", None), exit_code=out.exit_code(exc))


def _report(results: list[Outcome], as_json: bool) -> None:
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    if as_json:
        out.emit_json({"results": [_public(r) for r in results], **counts})
        return
    rows = [(r.file, r.status, out.size(r.width, r.height),
             "" if r.seconds is None else f"{r.seconds:.1f}",
             r.error if r.status == "failed" else r.output) for r in results]
    print(out.table(("file", "status", "size", "seconds", "output / error"), rows))
    print(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed")


def _public(outcome: Outcome) -> dict[str, object]:
    data = asdict(outcome)
    del data["exit_code"]
    return data
