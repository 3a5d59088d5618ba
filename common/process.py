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
from common.settings import Settings, load_settings


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


def run_main(
    description: str,
    main: Callable[[Settings], Coroutine[Any, Any, None]],
    argv: list[str] | None = None,
) -> int:
    """Parse ``--help``, load settings, run ``main``; config and outage errors are one line."""
    parser = argparse.ArgumentParser(
        description=description,
        epilog="Configuration comes from .env and the environment (see README, Configuration).",
    )
    parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        asyncio.run(main(settings))
    except (ConfigError, ServiceUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
