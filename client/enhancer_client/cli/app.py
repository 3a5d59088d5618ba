"""``enhancer``: the command line of the Image Enhancer API (``enhancer --help``)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Callable, Sequence

from enhancer_client import __version__
from enhancer_client.cli import config, images, output, videos
from enhancer_client.errors import AuthError, EnhancerError
from enhancer_client.sync import Client
from enhancer_client.types import Image, Page, Video

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.command(args)
        return code
    except images.UsageError as exc:
        output.say(f"error: {exc}")
        return output.USAGE
    except NotLoggedIn as exc:
        output.say(f"error: {exc}")
        return output.AUTH
    except EnhancerError as exc:
        if getattr(args, "json", False):
            output.emit_json(output.error_json(exc))
        output.say(f"error: {output.error_text(exc)}")
        if isinstance(exc, AuthError):
            output.say("log in again with: enhancer login")
        return output.exit_code(exc)
    except OSError as exc:  # a file that cannot be read or written
        output.say(f"error: {exc}")
        return output.USAGE
    except KeyboardInterrupt:
        output.say("interrupted")
        return output.INTERRUPTED


class NotLoggedIn(Exception):
    pass


def _client(args: argparse.Namespace, *, auth: bool = True) -> Client:
    url = config.resolve_url(args.url)
    reconnect_for = getattr(args, "reconnect_for", 300.0)
    if not auth:
        return Client(url, reconnect_for=reconnect_for)
    saved = config.load()
    if saved is None or saved.url != url:
        raise NotLoggedIn(f"not logged in to {url}: run  enhancer login --url {url}")
    return Client(url, token_store=config.FileTokenStore(saved), reconnect_for=reconnect_for)


def _login(args: argparse.Namespace) -> int:
    url = config.resolve_url(args.url)
    email = args.email or input("Email: ").strip()
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
    with Client(url) as api:
        tokens = api.login(email, password)
    config.save(config.Saved(url, email, tokens.access_token, tokens.refresh_token))
    if args.json:
        output.emit_json({"url": url, "email": email, "session_file": str(config.session_file())})
    else:
        output.say(f"logged in to {url} as {email} (session in {config.session_file()})")
    return output.OK


def _logout(args: argparse.Namespace) -> int:
    saved = config.load()
    if saved is not None:
        # AuthError: the session had already ended on the server.
        with Client(saved.url, tokens=saved.tokens) as api, contextlib.suppress(AuthError):
            api.logout()
    config.forget()
    output.say("logged out")
    return output.OK


def _models(args: argparse.Namespace) -> int:
    with _client(args, auth=False) as api:
        models = api.models()
    if args.json:
        output.emit_json([m.raw for m in models])
    else:
        print(output.table(("id", "name", "scale", "use case"),
                           [(m.id, m.name, m.default_scale, m.use_case) for m in models]))
    return output.OK


def _images(args: argparse.Namespace) -> int:
    with _client(args) as api:
        return images.run(api, args)


def _video(args: argparse.Namespace) -> int:
    with _client(args) as api:
        return videos.submit(api, args)


def _wait(args: argparse.Namespace) -> int:
    with _client(args) as api:
        return videos.resume(api, args)


def _list(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else ["images", "videos"]
    pages: dict[str, Page[Image] | Page[Video]] = {}
    with _client(args) as api:
        for kind in kinds:
            lister = api.list_images if kind == "images" else api.list_videos
            pages[kind] = lister(page=args.page, per_page=args.per_page, status=args.status)
    if args.json:
        output.emit_json({kind: {"total": page.total, "page": page.page,
                                 "items": [item.raw for item in page.items]}
                          for kind, page in pages.items()})
        return output.OK
    for kind, page in pages.items():
        print(f"{kind}: {page.total} in all")
        rows = [(item.id, item.status, item.original_filename, item.model_type,
                 output.size(item.enhanced_width, item.enhanced_height), _progress(item),
                 item.created_at) for item in page.items]
        if rows:
            print(output.table(("id", "status", "file", "model", "size", "progress",
                                "created"), rows))
    return output.OK


def _progress(job: Image | Video) -> str:
    if isinstance(job, Video) and job.frame_count:
        return f"{job.frames_processed}/{job.frame_count}"
    return ""


def _remove(args: argparse.Namespace) -> int:
    removed = []
    with _client(args) as api:
        for job_id in args.ids:
            kind = api.delete(job_id, kind=args.kind)
            removed.append({"id": job_id, "kind": kind})
            if not args.json:
                print(f"removed {kind} {job_id}")
    if args.json:
        output.emit_json(removed)
    return output.OK


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the service (default: $ENHANCER_URL, else the URL you "
                                      f"logged in to, else {config.DEFAULT_URL})")
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser = argparse.ArgumentParser(
        prog="enhancer", description="Enhance images and videos with the Image Enhancer API.",
        epilog=output.EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text,
                           epilog=output.EXIT_CODES_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(command=run)
        return p

    p = command("login", _login, "log in and keep the session in your config folder")
    p.add_argument("--email", help="account email (asked when left out)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin instead of a prompt")
    command("logout", _logout, "end the session and forget it")
    command("models", _models, "list the models")

    p = command("image", _images, "enhance image files and folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    _model_options(p)
    p.add_argument("--width", type=int, help="output width (the height follows unless given)")
    p.add_argument("--height", type=int, help="output height")
    p.add_argument("--format", choices=("png", "jpeg", "webp"), help="output format (png)")
    p.add_argument("-o", "--output", default="enhanced", metavar="DIR",
                   help="folder for the results (default: ./enhanced)")
    p.add_argument("-j", "--jobs", type=int, default=2, metavar="N",
                   help="parallel uploads (default: 2)")
    p.add_argument("--overwrite", action="store_true",
                   help="redo files whose output already exists (skipped by default)")

    p = command("video", _video, "enhance a video, following it with a progress bar")
    p.add_argument("path", metavar="VIDEO")
    _model_options(p)
    p.add_argument("--skip-similar", nargs="?", const=True, type=float, metavar="DB",
                   help="also reuse the output for near-repeated frames: within DB of PSNR "
                        "(30-100; without DB the server's default, 40)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to save the result (default: <name>_enhanced.mkv)")
    p.add_argument("--no-wait", action="store_true", help="submit, print the id and return")
    _reconnect_option(p)

    p = command("wait", _wait, "follow a submitted video until done, then download it")
    p.add_argument("id", metavar="VIDEO_ID")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to save the result (default: <name>_enhanced.mkv)")
    _reconnect_option(p)

    p = command("list", _list, "list your images and videos")
    p.add_argument("kind", nargs="?", choices=("images", "videos"))
    p.add_argument("--status", help="only this status (images: pending, processing, "
                                    "completed, failed; videos: pending, in_progress, "
                                    "completed, error)")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--per-page", type=int, default=20)

    p = command("rm", _remove, "delete images or videos (a running video is cancelled)")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--kind", choices=("image", "video"), help="what the ids are (default: "
                                                              "whichever each one is)")
    return parser


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", metavar="MODEL",
                   help="model_type: general_x4 (default), general_x2, anime, anime_video, "
                        "general_v3 (enhancer models)")
    p.add_argument("-s", "--scale", type=int, choices=(1, 2, 3, 4),
                   help="scale factor (default: the model's)")
    p.add_argument("--face", action="store_true", help="restore faces with GFPGAN")


def _reconnect_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reconnect-for", type=float, default=300.0, metavar="SECONDS",
                   help="keep retrying through a network outage this long (default: 300)")
