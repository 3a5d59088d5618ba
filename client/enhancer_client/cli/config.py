"""Where ``enhancer login`` keeps the session: ``$XDG_CONFIG_HOME/enhancer/session.json``
(``~/.config/enhancer/`` without it), readable by its owner only.

The file holds the service URL, the email and the current token pair. The refresh token is
rotated on every refresh, so the file is rewritten then; several ``enhancer`` processes may
run at once, so a renewal happens under an exclusive lock on ``session.lock`` and starts by
re-reading the file (``Session.renew`` adopts tokens another process already rotated).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from enhancer_client.types import Tokens

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock; one process at a time is safe
    fcntl = None  # type: ignore[assignment]

DEFAULT_URL = "http://localhost:8888"
FILE_MODE = 0o600


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "enhancer"


def session_file() -> Path:
    return config_dir() / "session.json"


@dataclass(frozen=True)
class Saved:
    url: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def tokens(self) -> Tokens:
        return Tokens(self.access_token, self.refresh_token)


def load() -> Saved | None:
    try:
        data = json.loads(session_file().read_text())
        return Saved(**{k: str(data[k]) for k in ("url", "email", "access_token",
                                                     "refresh_token")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(saved: Saved) -> None:
    _write_private(session_file(), json.dumps(asdict(saved), indent=2).encode())


def forget() -> bool:
    try:
        session_file().unlink()
        return True
    except FileNotFoundError:
        return False


def resolve_url(flag: str | None) -> str:
    """``--url``, else ``ENHANCER_URL``, else the logged-in URL, else the default."""
    saved = load()
    url = flag or os.environ.get("ENHANCER_URL") or (saved.url if saved else DEFAULT_URL)
    return url.rstrip("/")


def _private_dir() -> Path:
    folder = config_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically into a file that is 0600 from its creation on."""
    _private_dir()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a file left over from before keeps no wider mode
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


class FileTokenStore:
    """The ``TokenStore`` of a logged-in URL, backed by the session file."""

    def __init__(self, saved: Saved) -> None:
        self._saved = saved

    def load(self) -> Tokens | None:
        current = load()
        if current is None or current.url != self._saved.url:
            return None
        return current.tokens

    def save(self, tokens: Tokens) -> None:
        self._saved = Saved(self._saved.url, self._saved.email, tokens.access_token,
                            tokens.refresh_token)
        save(self._saved)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        fd = os.open(_private_dir() / "session.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
