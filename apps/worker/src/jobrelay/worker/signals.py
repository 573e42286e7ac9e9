"""How stop requests reach a worker process.

A supervised worker may get the same SIGTERM twice: once from whoever
stopped the service (systemd, ``timeout`` and ``kill -- -PGID`` signal the
whole process group) and once forwarded by its supervisor. So under a
supervisor SIGTERM only ever means "drain", and forcing takes a signal of
its own that only the supervisor sends.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

logger = logging.getLogger("jobrelay.worker")

DRAIN_SIGNAL = signal.SIGTERM
FORCE_SIGNAL = signal.SIGUSR1


class StopSignals:
    """Turns signals into ``stop`` (drain) and ``force`` (give up at once) events.

    Supervised: SIGTERM drains, :data:`FORCE_SIGNAL` forces, SIGINT is ignored
    (a terminal's Ctrl-C reaches the whole group; the supervisor forwards it).
    Alone: a first SIGTERM or SIGINT drains, a second one forces.
    """

    def __init__(self, *, supervised: bool) -> None:
        self.stop = threading.Event()
        self.force = threading.Event()
        if supervised:
            signal.signal(DRAIN_SIGNAL, self._on_drain)
            signal.signal(FORCE_SIGNAL, self._on_force)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, self._on_stop)
            signal.signal(signal.SIGINT, self._on_stop)

    def _on_drain(self, signum: int, frame: FrameType | None) -> None:
        if not self.stop.is_set():
            logger.info("stop signal: finishing in-flight jobs")
        self.stop.set()

    def _on_force(self, signum: int, frame: FrameType | None) -> None:
        logger.warning("forced stop: handing unfinished jobs back")
        self.stop.set()
        self.force.set()

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            self._on_force(signum, frame)
        else:
            self._on_drain(signum, frame)
