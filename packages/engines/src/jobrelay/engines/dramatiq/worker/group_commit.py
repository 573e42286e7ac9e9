"""Group commit: calls from many worker threads go to Redis together.

A round trip costs the worker process far more than the script it runs, and
a busy worker has many threads asking at once. The first caller goes
straight to Redis; callers that arrive while its round trip is under way
wait, and the next of them takes all of them in one batch. An idle worker
adds no delay; a busy one makes one round trip per batch instead of per job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

A = TypeVar("A")
R = TypeVar("R")


class BatchInterrupted(Exception):
    """The batch a request went in was cut short by an interrupt of another thread."""


class _Slot(Generic[A, R]):
    __slots__ = ("error", "leads", "ready", "request", "result")

    def __init__(self, request: A) -> None:
        self.request = request
        # A held lock its waiter blocks on until another thread releases it:
        # a one-shot signal far cheaper than an Event (a Python Condition).
        self.ready = threading.Lock()
        self.ready.acquire()
        self.leads = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[A, R]):
    """Calls ``run_batch`` with the requests of every thread that calls at once.

    ``run_batch`` returns one result per request, in order. An exception it
    raises goes to every request of the batch.
    """

    def __init__(self, run_batch: Callable[[Sequence[A]], Sequence[R]], *, max_batch: int = 64):
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Slot[A, R]] = []
        self._busy = False

    def __call__(self, request: A) -> R:
        slot: _Slot[A, R] = _Slot(request)
        with self._lock:
            if self._busy:
                self._waiting.append(slot)
            else:
                self._busy = slot.leads = True
        if not slot.leads:
            self._wait(slot)
        if slot.leads:
            self._lead(slot)
        if slot.error is not None:
            raise slot.error
        return cast(R, slot.result)

    def _wait(self, slot: _Slot[A, R]) -> None:
        try:
            slot.ready.acquire()
        except BaseException:
            # Dramatiq's time limit can interrupt this thread while it waits:
            # leave the queue, or pass on the lead it was just given.
            with self._lock:
                if slot in self._waiting:
                    self._waiting.remove(slot)
                    raise
                leads = slot.leads
            if leads:
                self._hand_on()
            raise

    def _lead(self, slot: _Slot[A, R]) -> None:
        with self._lock:
            batch = [slot, *self._waiting[: self._max_batch - 1]]
            del self._waiting[: self._max_batch - 1]
        try:
            results = self._run_batch([s.request for s in batch])
            for s, result in zip(batch, results, strict=True):
                s.result = result
        except Exception as exc:
            for s in batch:
                s.error = exc
        except BaseException as exc:
            slot.error = exc
            for s in batch[1:]:
                s.error = BatchInterrupted(f"batch interrupted: {exc!r}")
        finally:
            self._hand_on()
            for s in batch[1:]:
                s.ready.release()

    def _hand_on(self) -> None:
        """Give the lead to the longest waiter, or go idle."""
        with self._lock:
            if not self._waiting:
                self._busy = False
                return
            following = self._waiting.pop(0)
            following.leads = True
        following.ready.release()
