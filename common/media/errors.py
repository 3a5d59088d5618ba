"""What a media failure tells a user: the library's reason, never a file of the server's.

FFmpeg's errors (PyAV's ``FFmpegError``) end with the path they were opening, and a worker's
paths are temporary files of its own disk; a job's ``error_message`` reaches its user, so
the reason is taken without them, and any path left in a text is replaced.
"""

from __future__ import annotations

import re

import av

SERVER_FILE = "[archivo del servidor]"
# An absolute path of two or more parts, quoted or not, that does not continue a word, a
# URL (``https://host/x``) or another path.
_PATH = re.compile(r"""(?<![\w:/.~-])(['"]?)(?:/[\w.@+~=-]+){2,}/?\1""")


def media_reason(exc: BaseException) -> str:
    """The reason of a media library's error, without the file it was reading."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return without_paths(str(exc)) or type(exc).__name__


def without_paths(text: str) -> str:
    return _PATH.sub(SERVER_FILE, text)
