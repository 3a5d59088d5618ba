"""Process plumbing shared by every entry point: logging, settings errors, shutdown signals."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from common.errors import ConfigError, ServiceUnavailable
from common.logs import configure
from common.settings import Settings, environment_help, load_settings


def configure_logging(level: str, fmt: str = "text") -> None:
    configure(level, fmt)
    quiet_driver_payloads()


def quiet_driver_payloads() -> None:
    """Keep the MongoDB driver's DEBUG log off even when LOG_LEVEL=DEBUG: it prints every
    command and reply verbatim, password hashes and refresh-token hashes included."""
    logging.getLogger("pymongo").setLevel(logging.INFO)


def shutdown_event() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM (Ctrl-C, ``docker stop``)."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)
    return event


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {text!r}")
    return int(text)


def run_main(
    description: str,
    main: Callable[[Settings], Coroutine[Any, Any, None]],
    argv: list[str] | None = None,
    *,
    serves_api: bool = False,
) -> int:
    """Parse the options (``--help`` lists them and every environment variable read; an API
    process also takes ``--host``/``--port``), load settings, run ``main``; config and outage
    errors are one line."""
    parser = argparse.ArgumentParser(
        description=description,
        epilog=environment_help() + "\n\nSee README, Configuration.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if serves_api:
        parser.add_argument("--host", help="address to listen on (overrides API_HOST)")
        parser.add_argument("--port", type=_port, help="port to listen on (overrides API_PORT)")
    args = parser.parse_args(argv)
    overrides = {f"api_{name}": value for name in ("host", "port")
                 if (value := getattr(args, name, None)) is not None}
    try:
        settings = load_settings(**overrides)
        configure_logging(settings.log_level, settings.log_format)
        asyncio.run(main(settings))
    except (ConfigError, ServiceUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
