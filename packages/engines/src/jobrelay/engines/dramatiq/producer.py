from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import DecodeError
from jobrelay.job_engine import get_job
from jobrelay.queue import (
    QUEUES,
    FlowGate,
    JobStore,
    QueueSettings,
    QueueSpec,
    get_queue,
    unavailable_on_error,
)

from ..job import EngineJob
from ..tracing import TRACE_OPTION, current_carrier
from .broker import NORMAL_PRIORITY, PRIORITY_OPTION
from .deadletter import (
    DeadLetter,
    read_dead_letters,
    remove_dead_letter,
    remove_dead_letters_of,
)
from .messages import actor_name, message_args, message_options, policy_options, queue_policy

if TYPE_CHECKING:
    from .worker.runner import JobRunner

logger = logging.getLogger("jobrelay.dramatiq")

# Dramatiq keeps delayed messages in worker memory until due (and refuses
# delays over 7 days); from this delay on, messages wait in Redis instead.
WAKEUP_DELAY_S = 60.0


class DramatiqAdapter:
    """Runs jobrelay jobs on Dramatiq: one actor per queue on ``broker``.

    ``clock`` (epoch seconds) decides when sleeps and long delays are due;
    sleeps shorter than ``sleep_threshold_s`` wait in the worker, longer ones
    end the attempt and wait in Redis until :meth:`pump_wakeups` sends them back.
    """

    def __init__(
        self,
        broker: RedisBroker,
        store: JobStore,
        settings: QueueSettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep_threshold_s: float = 1.0,
    ) -> None:
        self.broker = broker
        self.store = store
        self.settings = settings
        self._clock = clock
        self._sleep_threshold_s = sleep_threshold_s
        # The worker side (job runner, consumer, job context) is built by
        # boot() or the first delivery: a producer only sends, and never
        # imports it.
        self._runner: JobRunner | None = None
        self._runner_lock = threading.Lock()
        self._actors = {name: self._declare(spec) for name, spec in QUEUES.items()}

        def consume(queue_name: str, prefetch: int = 1, timeout: int = 5000, **kw: Any) -> Any:
            # The first consumer asked for builds the worker side, whose
            # install_consumer replaces this function on the broker.
            self._serving()
            return broker.consume(queue_name, prefetch, timeout, **kw)

        # RedisBroker has no consumer-class setting: an instance attribute
        # swaps it for this broker only.
        broker.consume = consume  # type: ignore[method-assign]
        self._boot_lock = threading.Lock()
        self._booted = False

    def _declare(self, spec: QueueSpec) -> dramatiq.Actor[..., Any]:
        def run_job(*args: Any, **kwargs: Any) -> None:
            self._serving().handle(args, kwargs)

        declare = dramatiq.actor(
            broker=self.broker,
            actor_name=actor_name(spec.name),
            queue_name=spec.name,
            **policy_options(queue_policy(spec), spec.time_limit_s),
        )
        return declare(run_job)

    def actor(self, queue: str) -> dramatiq.Actor[..., Any]:
        """The actor of ``queue`` (raises UnknownQueue)."""
        return self._actors[get_queue(queue).name]

    def enqueue(self, job: EngineJob, *, delay_s: float | None = None) -> None:
        """Send one message for ``job``; raises RedisUnavailable when Redis does not answer.

        The job's retry policy and time limit travel in the message options.
        """
        definition = get_job(job.name)
        options = message_options(definition, get_queue(job.queue))
        if job.priority is not None and job.priority != NORMAL_PRIORITY:
            options[PRIORITY_OPTION] = job.priority
        carrier = current_carrier()
        if carrier:
            options[TRACE_OPTION] = carrier
        message = self.actor(job.queue).message_with_options(args=message_args(job), **options)
        if delay_s is not None and delay_s >= WAKEUP_DELAY_S:
            self.store.schedule_wakeup(message.encode().decode(), self._clock() + delay_s)
            return
        delay_ms = round(delay_s * 1000) if delay_s is not None and delay_s > 0 else None
        with unavailable_on_error():
            self.broker.enqueue(message, delay=delay_ms)

    def pump_wakeups(self, now: float | None = None, *, batch: int = 100) -> int:
        """Send due sleepers and long-delayed messages back to their queues.

        Returns how many were sent. Safe to call from many processes at once:
        each wake-up is leased by exactly one caller, and comes back if that
        caller dies before handing it on.
        """
        now = self._clock() if now is None else now
        sent = 0
        while True:
            due = self.store.lease_due_wakeups(now=now, limit=batch)
            for member in due:
                try:
                    message = Message.decode(member.encode())
                except DecodeError as exc:
                    self.store.bury_wakeup(member, f"undecodable: {exc}")
                    logger.error(
                        "an undecodable wake-up went to %s: %.200s",
                        self.store.keys.buried_wakeups,
                        member,
                    )
                    continue
                with unavailable_on_error():
                    self.broker.enqueue(message)
                self.store.ack_wakeup(member)
                sent += 1
            if len(due) < batch:
                return sent

    def dead_letters(self, queue: str) -> list[DeadLetter]:
        """The dead-letter queue of ``queue``, each message with the reason it is there."""
        return read_dead_letters(self.broker, get_queue(queue).name)

    def remove_dead_letter(self, queue: str, redis_id: str) -> bool:
        """Delete one dead letter of ``queue`` (retried, or purged); False if it was not there."""
        return remove_dead_letter(self.broker, get_queue(queue).name, redis_id)

    def remove_dead_letters_of(self, queue: str, job_ids: Collection[str]) -> int:
        """Delete the dead letters of ``queue`` of these jobs (retried since); how many went."""
        return remove_dead_letters_of(self.broker, get_queue(queue).name, job_ids)

    def boot(self) -> None:
        """Make this adapter a worker's, once: its job runner and consumer, then
        Dramatiq's ``process_boot`` (which starts the time-limit watcher)."""
        with self._boot_lock:
            if not self._booted:
                self._serving()
                self.broker.emit_after("process_boot")
                self._booted = True

    def _serving(self) -> JobRunner:
        """The job runner, built (with jobrelay's consumer installed) on first use."""
        runner = self._runner
        if runner is None:
            with self._runner_lock:
                if self._runner is None:
                    from .worker.consumer import install_consumer
                    from .worker.runner import JobRunner

                    install_consumer(self.broker, self.store)
                    self._runner = JobRunner(
                        self.broker,
                        self.store,
                        clock=self._clock,
                        sleep_threshold_s=self._sleep_threshold_s,
                        gate=FlowGate(
                            self.store.client, self.store.keys, lease_s=self.settings.flow_lease_s
                        ),
                    )
                runner = self._runner
        return runner
