from __future__ import annotations

import threading
from typing import Any

from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy

from .outcomes import Outcome, ended


class WorkerStats(Middleware):
    """Counts succeeded and failed jobs and remembers which messages are being processed.

    The in-flight set lets a forced shutdown hand unfinished messages back
    to the queue at once instead of leaving them to the broker's heartbeat
    timeout.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, MessageProxy] = {}
        self.done = 0
        self.failed = 0

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        with self._lock:
            self._in_flight[_key(message)] = message

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        with self._lock:
            self._in_flight.pop(_key(message), None)
            outcome = ended(message, exception)
            if outcome is Outcome.SUCCEEDED:
                self.done += 1
            elif outcome.is_failure:
                self.failed += 1

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        with self._lock:
            self._in_flight.pop(_key(message), None)

    def in_flight(self) -> list[MessageProxy]:
        """The messages whose processing started and has not ended."""
        with self._lock:
            return list(self._in_flight.values())

    def counts(self) -> tuple[int, int]:
        """``(done, failed)`` so far."""
        with self._lock:
            return self.done, self.failed


def _key(message: MessageProxy) -> str:
    # Each delivery has its own redis_message_id; retries get a new one.
    return str(message.options.get("redis_message_id") or message.message_id)
