"""The SecantusDB child's entry point: ``secantusd-py`` plus two fixes. Run by file path
(``python -P secantusd_launcher.py --port ...``) so the child needs nothing but
``secantus``; ``-P`` keeps this directory, whose ``secantus.py`` would shadow the package, off
``sys.path``.

1. secantusd stops on SIGTERM through a Python handler, and Python runs handlers only when
   the main thread executes bytecode. Its main thread blocks in an untimed ``Event.wait()``,
   and with WiredTiger's and the connection threads about, the kernel often delivers the
   signal to one of those, so the handler never ran and the server had to be SIGKILLed.
   A timed wait lets the handler run within 0.2 s.
2. A thread polls ``getppid()``: when the parent dies the child is re-parented and stops
   itself cleanly, so a killed test run or app never leaves an orphan holding the WiredTiger
   lock on the data directory.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from secantus.cli import main
from secantus.server import SecantusDBServer


def _timed_wait(self: SecantusDBServer) -> None:
    while not self._stop_event.wait(0.2):
        pass


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    SecantusDBServer.wait = _timed_wait
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    sys.exit(main(sys.argv[1:]))
