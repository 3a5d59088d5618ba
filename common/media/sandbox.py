"""Run a media function in a child process under a wall-clock and an address-space limit.

A hostile file can make a demuxer or decoder spin or allocate without bound; in a child that
costs only the child. The target is named ``"module:function"``; it takes JSON-able keyword
arguments and returns a JSON-able value. Our own errors raised in the child (``InvalidInput``,
``TooLarge``, ``UnsupportedFormat``, ``ProcessingError``) are raised again here by type.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import errors
from common.errors import EnhancerError, InvalidInput, ProcessingError

ROOT = Path(__file__).resolve().parents[2]
_PASSED_ERRORS = ("InvalidInput", "UnsupportedFormat", "TooLarge", "ProcessingError")


def run_limited(
    target: str,
    kwargs: dict[str, Any],
    *,
    timeout: float,
    memory_mb: int,
    what: str = "video",
) -> Any:
    """Call ``target(**kwargs)`` in a child; raise ``InvalidInput`` on timeout or OOM."""
    try:
        done = subprocess.run(
            CHILD, input=_request(target, kwargs, memory_mb), capture_output=True,
            timeout=timeout, env=_child_env(), cwd=ROOT, check=False,
        )
    except subprocess.TimeoutExpired:
        raise _timed_out(what, timeout) from None
    return _reply(done.stdout, done.stderr, done.returncode, what, memory_mb)


async def run_limited_async(
    target: str,
    kwargs: dict[str, Any],
    *,
    time_limit: float,
    memory_mb: int,
    what: str = "video",
) -> Any:
    """:func:`run_limited` for a caller that may be cut: when the awaiting task is cancelled
    (its job deleted, its message's time limit, the worker shutting down) the child is
    killed there and then instead of running on to its own time limit. ``time_limit`` is
    ``run_limited``'s ``timeout``."""
    child = await asyncio.create_subprocess_exec(
        *CHILD, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_child_env(), cwd=ROOT,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            child.communicate(_request(target, kwargs, memory_mb)), time_limit)
    except TimeoutError:
        raise _timed_out(what, time_limit) from None
    finally:
        if child.returncode is None:
            child.kill()
            await asyncio.shield(child.wait())
    assert child.returncode is not None
    return _reply(stdout, stderr, child.returncode, what, memory_mb)


CHILD = (sys.executable, "-m", "common.media.sandbox")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    # BLAS pools reserve address space per thread; one thread keeps RLIMIT_AS meaningful.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _request(target: str, kwargs: dict[str, Any], memory_mb: int) -> bytes:
    return json.dumps({"target": target, "kwargs": kwargs, "memory_mb": memory_mb}).encode()


def _timed_out(what: str, timeout: float) -> InvalidInput:
    return InvalidInput(f"El {what} superó el tiempo límite de análisis ({timeout:g} s)")


def _reply(stdout: bytes, stderr: bytes, returncode: int, what: str, memory_mb: int) -> Any:
    """The child's result, or its error raised again by type."""
    try:
        reply = json.loads(stdout.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = stderr.decode(errors="replace")[-500:]
        if "MemoryError" in tail or returncode < 0:
            raise InvalidInput(
                f"El {what} excede el límite de memoria de análisis ({memory_mb} MB)"
            ) from None
        raise ProcessingError(f"media child failed (exit {returncode}): {tail}") from None
    if "error" in reply:
        kind, message = reply["error"]
        cls = getattr(errors, kind) if kind in _PASSED_ERRORS else ProcessingError
        raise cls(message)
    return reply["result"]


def _child() -> None:
    request = json.loads(sys.stdin.read())
    limit = int(request["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    module_name, func_name = request["target"].split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        reply: dict[str, Any] = {"result": func(**request["kwargs"])}
    except MemoryError:
        reply = {"error": ["InvalidInput", "El video excede el límite de memoria de análisis"]}
    except EnhancerError as exc:
        reply = {"error": [type(exc).__name__, str(exc)]}
    except Exception as exc:  # the parent decides; the child only reports
        reply = {"error": ["ProcessingError", f"{type(exc).__name__}: {exc}"]}
    sys.stdout.write("\n" + json.dumps(reply) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    _child()
