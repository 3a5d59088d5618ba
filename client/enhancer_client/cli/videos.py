"""``enhancer video`` and ``enhancer wait``: submit, follow with a live bar, download.

The job runs on the server whatever happens to this process: a network blip is retried
(for ``--reconnect-for`` seconds of continuous outage), and after a longer outage or a
Ctrl-C the message says how to pick it up again with ``enhancer wait <id>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path, PurePath
from typing import Any

from tqdm import tqdm

from enhancer_client.cli import output
from enhancer_client.errors import ConnectionFailed
from enhancer_client.sync import Client
from enhancer_client.types import Video


def submit(api: Client, args: argparse.Namespace) -> int:
    source = Path(args.path)
    if not source.is_file():
        output.say(f"error: no such file: {args.path}")
        return output.USAGE
    video = api.submit_video(source, model_type=args.model, scale=args.scale,
                             face_enhance=args.face or None, skip_similar=args.skip_similar)
    dest = Path(args.output) if args.output else default_output(video)
    output.say(f"video {video.id} submitted: {video.frame_count} frames, "
               f"{output.size(video.original_width, video.original_height)} "
               f"(to pick it up again: enhancer wait {video.id} -o {dest})")
    if args.no_wait:
        if args.json:
            output.emit_json(_public(video, None))
        else:
            print(video.id)
        return output.OK
    return follow(api, video.id, dest, args, total=video.frame_count)


def resume(api: Client, args: argparse.Namespace) -> int:
    dest = Path(args.output) if args.output else None
    return follow(api, args.id, dest, args)


def default_output(video: Video) -> Path:
    stem = PurePath(video.original_filename or video.id).stem
    return Path(f"{stem}_enhanced.mkv")


def follow(api: Client, video_id: str, dest: Path | None, args: argparse.Namespace,
           total: int | None = None) -> int:
    hint = f"enhancer wait {video_id}" + (f" -o {dest}" if dest else "")
    bar = tqdm(total=total, unit="frame", desc="video", disable=args.quiet or args.json,
               dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} frames "
                          "[{elapsed}{postfix}]")
    try:
        done = api.wait(video_id, on_progress=lambda video: _draw(bar, video))
        bar.close()  # tqdm's close is idempotent: every path below closes it first
        target = dest or default_output(done)
        api.download(done, target)
    except ConnectionFailed as exc:
        bar.close()
        output.say(f"error: lost the connection ({exc}); the job goes on on the server.\n"
                   f"resume with: {hint}")
        return output.UNAVAILABLE
    except KeyboardInterrupt:
        bar.close()
        output.say(f"\ninterrupted; the job goes on on the server. resume with: {hint}")
        return output.INTERRUPTED
    finally:
        bar.close()  # before any message, so the bar is not drawn again after it
    if args.json:
        output.emit_json(_public(done, target))
    else:
        print(f"{target}  {output.size(done.enhanced_width, done.enhanced_height)}  "
              f"{done.frame_count} frames  {(done.processing_time_ms or 0) / 1000:.1f} s")
    return output.OK


def _draw(bar: tqdm[Any], video: Video) -> None:
    if video.frame_count:
        bar.total = video.frame_count
    bar.n = video.frames_processed or 0
    parts = [video.status]
    if video.processing_fps:
        parts.append(f"{video.processing_fps:.1f} fps")
    if video.eta_seconds is not None:
        parts.append(f"ETA {output.duration(video.eta_seconds)}")
    bar.set_postfix_str(", ".join(parts), refresh=False)
    bar.refresh()


def _public(video: Video, saved: Path | None) -> dict[str, Any]:
    data = {k: v for k, v in video.raw.items() if not k.endswith("_base64")}
    data["output"] = str(saved) if saved else None
    return data
