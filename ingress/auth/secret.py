"""The key that signs access tokens: resolved by the API process, and only there.

No worker signs or checks a token, so no worker is given the key: ``JWT_SECRET_KEY`` is read
here, when the API starts. The manual's placeholder, an empty or a short key never signs a
token. The embedded run (``python main.py``) generates a random key once and keeps it in
``DATA_DIR/jwt_secret`` (created readable by its owner only), so tokens survive a restart;
a distributed API refuses to start instead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from common.errors import ConfigError
from common.settings import Settings

# The manual's example value: anyone who read the manual can forge tokens signed with it.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "your-super-secret-jwt-key-change-in-production",
        "tu-clave-secreta-muy-larga-y-segura",
        "tu-clave-secreta",
        "changeme",
    }
)
MIN_SECRET_LENGTH = 32
SECRET_FILE = "jwt_secret"


def resolve_jwt_secret(settings: Settings, *, embedded: bool) -> str:
    """``JWT_SECRET_KEY`` when it is a real key; else (embedded run only) the generated one."""
    key = settings.jwt_secret_key.strip()
    if key not in PLACEHOLDER_SECRETS and len(key) >= MIN_SECRET_LENGTH:
        return key
    if not embedded:
        raise ConfigError(
            "JWT_SECRET_KEY is empty, too short or the manual's placeholder: set it to a "
            f"random value of at least {MIN_SECRET_LENGTH} characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return _embedded_secret(settings.data_dir)


def _embedded_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_FILE
    if path.exists():
        stored = path.read_text().strip()
        if len(stored) >= MIN_SECRET_LENGTH:
            return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{SECRET_FILE}.{secrets.token_hex(4)}.tmp")
    # Created 0600 in the one call that creates it: the key is never readable by others,
    # not even between writing and a later chmod. O_EXCL: never write through a planted file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return key
