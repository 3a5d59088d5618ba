"""Every process entry point exists and answers ``--help`` (docker compose runs these)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

ENTRY_POINTS = [
    [sys.executable, "main.py"],
    [sys.executable, "-m", "ingress"],
    [sys.executable, "-m", "pipeline.decode"],
    [sys.executable, "-m", "pipeline.upscale"],
    [sys.executable, "-m", "pipeline.encode"],
    [sys.executable, "-m", "pipeline.webhooks"],
    [sys.executable, "-m", "pipeline.upscale.engine.weights"],  # compose's models-init
]


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ENTRY_POINTS, ids=lambda c: " ".join(c[1:]))
def test_entry_point_answers_help(command: list[str]) -> None:
    done = _run([*command, "--help"])
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    # The environment variables each reads are listed, with their defaults.
    listed = ["MODELS_DIR", "WEIGHTS_BASE_URL"] if "weights" in command[-1] else [
        f"{name.upper()}=" for name in Settings.model_fields]
    missing = [name for name in listed if name not in done.stdout]
    assert not missing, done.stdout
    serves_api = command[-1] in ("main.py", "ingress")
    for option in ("--port PORT", "--host HOST"):
        assert (option in done.stdout) == serves_api, done.stdout


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_bad_port_option_is_refused_before_starting(port: str) -> None:
    done = _run([sys.executable, "main.py", "--port", port])
    assert done.returncode == 2
    assert "--port: not a port number (1-65535)" in done.stderr


def test_distributed_api_refuses_the_placeholder_secret(tmp_path: Path) -> None:
    # Only the API holds the key (workers start without one: tests/test_distributed_run.py).
    env = {
        "PATH": "/usr/bin:/bin",
        "JWT_SECRET_KEY": "your-super-secret-jwt-key-change-in-production",
        "MONGO_URL": "mongodb://127.0.0.1:1/",
    }
    done = _run([sys.executable, "-m", "ingress"], env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: JWT_SECRET_KEY")


def test_invalid_setting_stops_with_one_line(tmp_path: Path) -> None:
    done = _run([sys.executable, "-m", "ingress"], {"PATH": "/usr/bin:/bin", "API_PORT": "eighty"})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "API_PORT" in done.stderr


@pytest.mark.parametrize("service", ["MongoDB", "RabbitMQ"])
def test_unreachable_service_at_start_up_is_retried_then_reported(
    mongo_url: str, service: str
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "JWT_SECRET_KEY": "k" * 40,
        "STARTUP_RETRY_SECONDS": "2",
        "MONGO_URL": "mongodb://127.0.0.1:1/" if service == "MongoDB" else mongo_url,
        "AMQP_URL": "amqp://guest:secret@127.0.0.1:1/",
    }
    done = _run([sys.executable, "-m", "pipeline.decode"], env)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {service} at ")
    assert "unreachable after 2s of retries" in last
    assert "secret" not in done.stderr
