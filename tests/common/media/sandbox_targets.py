"""Functions the sandbox tests run in its child (importable there: the child's path holds the
repository)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from common.errors import InvalidInput


def pid_then_sleep(pid_file: str, seconds: float) -> int:
    """Write the child's pid where the test looks, then take ``seconds``."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


def refuse(message: str) -> None:
    raise InvalidInput(message)
