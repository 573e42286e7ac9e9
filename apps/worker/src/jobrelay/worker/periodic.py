from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("jobrelay.worker")


class Periodic:
    """Calls ``fn`` every ``interval_s`` on a daemon thread until :meth:`stop`.

    The first call happens at once. A failing call is logged and the next one
    comes on time: a Redis blip must not end a heartbeat for good.
    """

    def __init__(self, name: str, interval_s: float, fn: Callable[[], object]) -> None:
        self.name = name
        self.interval_s = interval_s
        self._fn = fn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._fn()
            except Exception as exc:
                logger.warning("%s failed: %s", self.name, exc)
            self._stop.wait(self.interval_s)
