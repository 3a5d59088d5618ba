"""An S3-protocol server for the object-storage tests: moto's server mode, in a child process.

moto is a protocol-level stand-in, not MinIO: it answers the plain S3 API (buckets, objects,
multipart uploads, listings, presigned URLs) over real HTTP, which is all the S3 adapter
uses; MinIO itself cannot be installed on these machines (no Docker engine, no package).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from common.store import S3Location
from tests.embedded import free_port
from tests.services import unavailable

# moto accepts any credentials; the adapter still sends and signs them like a real client.
ACCESS_KEY, SECRET_KEY = "test-access-key", "test-secret-key"


@contextmanager
def moto_server() -> Iterator[str]:
    """Start ``moto_server`` on a free local port; yield its endpoint URL."""
    try:
        import moto.server  # noqa: F401  (only to know it is installed)
    except ImportError:
        unavailable("moto[server] (the S3 test server)")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    unavailable("moto_server (it did not start)")
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def fresh_location(endpoint: str, prefix: str = "jobs") -> S3Location:
    """A bucket of its own (created by the adapter's ``ensure_indexes``) on ``endpoint``."""
    return S3Location(bucket=f"test-{uuid.uuid4().hex[:16]}", prefix=f"{prefix}/",
                      endpoint_url=endpoint, region="us-east-1",
                      access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
