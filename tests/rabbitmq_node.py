"""A private RabbitMQ node for tests that stop, restart or reconfigure their broker.

The broker at ``AMQP_URL`` is shared (other suites, other engineers' runs use it at the same
time), so a test that needs ``stop_app``/``start_app`` or a lowered ``consumer_timeout`` starts
a node of its own: its own node name, AMQP and distribution ports, Erlang cookie (a private
``HOME``), mnesia and log directories, no plugins. It runs the ``rabbitmq-server`` script
itself, not Debian's ``/usr/sbin`` wrapper, which as root would switch to the ``rabbitmq``
user and that user's home; so it works for any user on a machine where RabbitMQ is installed
from Debian's packages, as on the CI machines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.embedded import free_port
from tests.services import unavailable

# rabbitmqctl takes distribution ports from 10000 above the shared node's (25672 + 10000, a
# range of 10): a private node listening there would collide with any CLI call.
_CLI_PORTS = range(35672, 35683)


def _scripts() -> Path | None:
    """The directory holding the real ``rabbitmq-server`` and ``rabbitmqctl`` scripts."""
    found = shutil.which("rabbitmq-server") or "/usr/lib/rabbitmq/bin/rabbitmq-server"
    if not Path(found).exists():
        return None
    # Debian: /usr/sbin/rabbitmq-server → /usr/lib/rabbitmq/bin/rabbitmq-script-wrapper.
    directory = Path(os.path.realpath(found)).parent
    return directory if (directory / "rabbitmq-server").exists() else None


def _port() -> int:
    while (port := free_port()) in _CLI_PORTS:
        pass
    return port


def _erlang(value: str | int) -> str:
    return str(value) if isinstance(value, int) else value


class PrivateRabbit:
    """One running node; ``url`` is its AMQP URL (guest/guest, default vhost)."""

    def __init__(self, base: Path, rabbit_env: Mapping[str, str | int]) -> None:
        scripts = _scripts()
        if scripts is None:
            unavailable("rabbitmq-server (to start a private RabbitMQ node)")
        self.scripts = scripts
        self.base = base
        self.node = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = _port(), _port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n")
        settings = ", ".join(f"{{{k}, {_erlang(v)}}}" for k, v in rabbit_env.items())
        (base / "advanced.config").write_text(f"[{{rabbit, [{settings}]}}].\n")
        (base / "enabled_plugins").write_text("[].\n")
        self.pid_file = base / "node.pid"
        self.env = dict(
            os.environ,
            HOME=str(base / "home"),  # its own Erlang cookie
            RABBITMQ_CONF_ENV_FILE="/dev/null",  # not the shared node's rabbitmq-env.conf
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_PID_FILE=str(self.pid_file),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )

    def ctl(self, *args: str, timeout: float = 90) -> str:
        done = subprocess.run([str(self.scripts / "rabbitmqctl"), "-n", self.node, *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr[-2000:]}\n"
                               f"{self.log_tail()}")
        return done.stdout

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.base / "log").glob("*.log"))

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]

    def start(self) -> None:
        subprocess.run([str(self.scripts / "rabbitmq-server"), "-detached"], env=self.env,
                       capture_output=True, timeout=60, check=False)
        self.ctl("wait", str(self.pid_file), "--timeout", "90", timeout=120)

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")

    def set_rabbit_env(self, key: str, value: str | int) -> None:
        """Change a ``rabbit`` application setting on the running node."""
        self.ctl("eval", f"application:set_env(rabbit, {key}, {_erlang(value)}).")

    def stop(self) -> None:
        if not self.pid_file.exists():
            return
        try:
            self.ctl("stop", str(self.pid_file), timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            pid = int(self.pid_file.read_text().strip() or 0)
            if pid:
                with suppress(ProcessLookupError):
                    os.kill(pid, 9)
                time.sleep(0.5)


@contextmanager
def private_rabbitmq(base: Path, **rabbit_env: str | int) -> Iterator[PrivateRabbit]:
    """A started private node (``rabbit_env``: ``rabbit`` application settings such as
    ``consumer_timeout=5000``), stopped and its files removed afterwards."""
    node = PrivateRabbit(base, rabbit_env)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(base, ignore_errors=True)
