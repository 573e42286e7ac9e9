"""Graceful stop of a Dramatiq worker that hands prefetched messages back at once.

``dramatiq.Worker.stop`` keeps its consumers fetching while in-flight jobs
finish, only then requeues the work queue, and never requeues the messages
the Redis consumer fetched but had not yet handed out (its ``message_cache``;
``_RedisConsumer.close`` does nothing). Those would wait for the broker's
heartbeat timeout. Here fetching stops first and every message not started
goes back to Redis within a few hundred milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from queue import Empty, Queue
from typing import TypeVar

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.message import Message

from .context import release_held_leases
from .stats import WorkerStats

logger = logging.getLogger("jobrelay.worker")

T = TypeVar("T")


@dataclass(slots=True)
class DrainReport:
    """What a drain did."""

    requeued: int = 0
    """Prefetched messages sent back before they started."""
    abandoned: int = 0
    """In-flight messages sent back because the grace period ran out or a stop was forced."""


def stop_fetching(worker: dramatiq.Worker, timeout_s: float = 5.0) -> None:
    """Stop the consumer threads; their consumers stay open to ack in-flight work."""
    for thread in worker.consumers.values():
        thread.stop()
    for thread in worker.consumers.values():
        thread.join(timeout_s)


def requeue_prefetched(worker: dramatiq.Worker) -> int:
    """Send every fetched-but-not-started message back to its Redis queue.

    Call after :func:`stop_fetching` and once worker threads stopped taking
    work. Returns how many went back.
    """
    by_queue: dict[str, list[MessageProxy]] = defaultdict(list)
    for item in _take_all(worker.work_queue):
        by_queue[item.message.queue_name].append(item.message)
    for name, thread in worker.consumers.items():
        for item in _take_all(thread.delay_queue):
            by_queue[name].append(item.message)
        consumer = thread.consumer
        cache = getattr(consumer, "message_cache", None)
        if cache:
            by_queue[name].extend(MessageProxy(Message.decode(d)) for d in cache if d is not None)
            cache.clear()
    return sum(_requeue(worker, name, messages) for name, messages in by_queue.items())


def requeue_in_flight(worker: dramatiq.Worker, messages: Iterable[MessageProxy]) -> int:
    """Send messages still being processed back to their queue (their job resumes
    from its step memo elsewhere); returns how many went back."""
    by_queue: dict[str, list[MessageProxy]] = defaultdict(list)
    for message in messages:
        by_queue[message.queue_name].append(message)
    return sum(_requeue(worker, name, msgs) for name, msgs in by_queue.items())


def drain(
    worker: dramatiq.Worker,
    stats: WorkerStats,
    *,
    grace_s: float,
    force: threading.Event,
) -> DrainReport:
    """Stop taking messages, requeue prefetched ones, let in-flight ones finish.

    Waits up to ``grace_s`` (or until ``force`` is set) for running jobs; any
    still running then are requeued so another worker takes them at once.
    The worker is fully stopped on return.
    """
    report = DrainReport()
    deadline = time.monotonic() + grace_s
    stop_fetching(worker)
    for thread in worker.workers:
        thread.stop()
    # An idle worker thread may be blocked in work_queue.get(); once its poll
    # timeout passes it has either taken a message (now in flight) or left.
    time.sleep(worker.worker_timeout / 1000 * 1.5)
    report.requeued = requeue_prefetched(worker)
    if report.requeued:
        logger.info("requeued %d prefetched messages", report.requeued)
    while any(t.is_alive() for t in worker.workers):
        if force.is_set() or time.monotonic() >= deadline:
            break
        force.wait(0.05)
    leftover = stats.in_flight()
    if leftover:
        # Before the messages go back: their steps' leases would make the
        # next delivery wait them out.
        release_held_leases()
        report.abandoned = requeue_in_flight(worker, leftover)
        logger.warning(
            "%s: requeued %d unfinished messages",
            "forced stop" if force.is_set() else "grace period over",
            report.abandoned,
        )
    # Threads still running a job are abandoned (the process exits next);
    # everything else was joined above, so this returns promptly.
    worker.stop(timeout=500 if leftover else 5000)
    return report


def _requeue(worker: dramatiq.Worker, queue_name: str, messages: list[MessageProxy]) -> int:
    if not messages:
        return 0
    thread = worker.consumers.get(queue_name)
    if thread is None or thread.consumer is None:
        logger.error("no consumer for %s: %d messages wait for recovery", queue_name, len(messages))
        return 0
    try:
        thread.consumer.requeue(messages)
    except Exception:
        logger.exception("could not requeue %d messages of %s", len(messages), queue_name)
        return 0
    return len(messages)


def _take_all(queue: Queue[T]) -> list[T]:
    taken: list[T] = []
    while True:
        try:
            taken.append(queue.get_nowait())
        except Empty:
            return taken
        # Balances the get so Queue.join() (dramatiq's Worker.join) still returns.
        queue.task_done()
