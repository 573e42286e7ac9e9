"""The Redis consumer of jobrelay workers: poison messages and acks that carry outcomes.

Dramatiq's own consumer lets a decode error escape: the consumer thread
restarts, the bad message stays in this worker's unacked set for as long as
the worker lives (and goes to the next worker after that), and the other
prefetched messages in memory are stranded with it. This one dead-letters it.

A job's success is written by the ack of its message, in one script: no
window in which a worker that dies between the two leaves a finished job's
message to run again, or an acked message whose job never finished. Acks
from the worker threads go to Redis together (group commit).

A retry is written by the ack too: the next attempt's delayed copy and the
ack of this one in one script. Dramatiq's Retries middleware enqueues the
copy first and acks after, and when Redis fails between the two (or under
the enqueue) it logs the error and acks anyway: the job is gone. An attempt
that Redis failed mid-way goes back to its queue, unacked until then, with
its attempt count unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff, current_millis, dq_name
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.message import Message
from jobrelay.queue import JobState, JobStore, QueuePauses, RedisUnavailable, Slot
from jobrelay.queue.codec import text

from ..broker import DramatiqKeys, MessageAck
from ..deadletter import dead_letter_raw
from .group_commit import GroupCommit
from .maintenance import beat_and_maintain
from .success_ack import SuccessAck

logger = logging.getLogger("jobrelay.dramatiq")

# Redis's BLPOP takes a timeout in seconds; below this a sleep is as good.
_MIN_BLOCK_S = 0.01

_SUCCESS_ATTR = "_jobrelay_success"
_REDELIVERY_ATTR = "_jobrelay_redelivery"

# Ack one delivery and enqueue the next attempt's delayed copy, or neither:
# a delivery that another worker's maintenance already put back (this worker
# looked dead) is not also retried. Key layout: dramatiq's dispatch.lua.
_RETRY_ACK = """
if redis.call('srem', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('hdel', KEYS[2], ARGV[1])
redis.call('hset', KEYS[4], ARGV[2], ARGV[3])
redis.call('rpush', KEYS[3], ARGV[2])
return 1
"""


# Dramatiq's "fetch" over the queue's priority lanes, first to last (the
# default priority's lane is the queue's own list), with its heartbeat.
# KEYS: the lanes, then the acks set, the messages hash, the heartbeats zset.
# ARGV: how many, now (ms), broker id.
_FETCH_LANES = """
local lanes = #KEYS - 3
local acks, messages = KEYS[lanes + 1], KEYS[lanes + 2]
redis.call('zadd', KEYS[lanes + 3], ARGV[2], ARGV[3])
local want = tonumber(ARGV[1])
local ids = {}
for lane = 1, lanes do
  while #ids < want do
    local id = redis.call('lpop', KEYS[lane])
    if not id then break end
    ids[#ids + 1] = id
    redis.call('sadd', acks, id)
  end
end
if #ids == 0 then return {} end
return redis.call('hmget', messages, unpack(ids))
"""


@dataclass
class _Success:
    job_id: str
    result: Any
    result_json: str
    slot: Slot | None = None
    """A concurrency slot the job held, freed by the ack too."""


def succeed_on_ack(message: MessageProxy, job_id: str, result: Any, result_json: str) -> None:
    """Have the ack of ``message`` also record ``job_id`` as succeeded.

    ``result_json`` is ``result`` encoded with ``jobrelay.queue.dumps``.
    """
    setattr(message, _SUCCESS_ATTR, _Success(job_id, result, result_json))


def release_on_ack(message: MessageProxy, slot: Slot) -> bool:
    """Have the ack that records the job's success also free ``slot``.

    False (nothing arranged) when the ack carries no success: free it now.
    """
    success = _success_of(message)
    if success is None:
        return False
    success.slot = slot
    return True


def _success_of(message: MessageProxy) -> _Success | None:
    # MessageProxy forwards unknown attributes to the message, which raises.
    return message.__dict__.get(_SUCCESS_ATTR)


# Message options of flow control (a job waiting for a slot or its turn): how
# often it waited, and whether it was given a turn. A new attempt starts afresh.
FLOW_WAITS_OPTION = "jobrelay_flow_waits"
FLOW_TURN_OPTION = "jobrelay_flow_turn"
_FLOW_OPTIONS = (FLOW_WAITS_OPTION, FLOW_TURN_OPTION)


@dataclass(frozen=True)
class _Redelivery:
    delay_ms: int | None
    """None: back to its queue now, as the same attempt."""
    counts: bool = True
    """Whether the delayed copy is the next attempt or this one again."""
    options: dict[str, Any] | None = None
    """Options the copy carries on top of the message's own."""


def retry_on_ack(
    message: MessageProxy,
    delay_ms: int,
    *,
    counts: bool = True,
    options: dict[str, Any] | None = None,
) -> None:
    """Have the ack of ``message`` also enqueue a copy due in ``delay_ms``.

    The copy is the next attempt, or with ``counts=False`` this attempt again;
    it carries ``options`` on top of the message's own.
    """
    setattr(message, _REDELIVERY_ATTR, _Redelivery(max(1, delay_ms), counts, options))


def requeue_on_ack(message: MessageProxy) -> None:
    """Have the "ack" of ``message`` put it back on its queue instead, attempt unchanged.

    For an attempt that Redis failed under: until Redis answers the message
    stays in this worker's unacked set, so a crash meanwhile loses nothing.
    """
    setattr(message, _REDELIVERY_ATTR, _Redelivery(None))


@contextmanager
def _connection_closed() -> Iterator[None]:
    # Dramatiq retries an ack only on ConnectionClosed, until it lands.
    try:
        yield
    except (RedisUnavailable, redis.ConnectionError, redis.TimeoutError) as exc:
        raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]


class JobConsumer(_RedisConsumer):
    """The broker's consumer, plus a DLQ for undecodable messages and outcome-carrying acks."""

    def __init__(
        self,
        broker: RedisBroker,
        store: JobStore,
        pauses: QueuePauses,
        succeed_and_ack: GroupCommit[tuple[str, str, MessageAck, Slot | None], bool],
        retry_ack: redis.commands.core.Script,
        queue_name: str,
        prefetch: int,
        timeout: int,
        fetch_lanes: redis.commands.core.Script | None = None,
    ) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self._fetch_lanes = fetch_lanes
        # Delayed messages (name.DQ) are not enqueued with a token: they poll.
        self._wake_key = (
            None
            if queue_name == dq_name(queue_name)
            else DramatiqKeys(broker.namespace).wake(queue_name)
        )
        read_timeout = broker.client.connection_pool.connection_kwargs.get("socket_timeout")
        self._max_block_s = 0.8 * read_timeout if read_timeout else 1.0
        self._store = store
        self._pauses = pauses
        self._succeed_and_ack = succeed_and_ack
        self._retry_ack = retry_ack

    def ack(self, message: MessageProxy) -> None:
        redelivery: _Redelivery | None = message.__dict__.get(_REDELIVERY_ATTR)
        if redelivery is not None:
            with _connection_closed():
                self._redeliver(message, redelivery)
            self.queued_message_ids.discard(message.message_id)
            return
        success = _success_of(message)
        if success is None:
            super().ack(message)  # type: ignore[no-untyped-call]
            return
        ack = MessageAck.of(self.broker, self.queue_name, message.options["redis_message_id"])
        with _connection_closed():
            self._succeed_and_ack((success.job_id, success.result_json, ack, success.slot))
        self.queued_message_ids.discard(message.message_id)

    def _redeliver(self, message: MessageProxy, redelivery: _Redelivery) -> None:
        redis_id = message.options["redis_message_id"]
        delay_ms = redelivery.delay_ms
        if delay_ms is None:
            self.broker.do_requeue(self.queue_name, redis_id)
            return
        # What dramatiq's Retries and RedisBroker.enqueue(delay=...) would send.
        delayed_queue = dq_name(message.queue_name)
        retry = message.copy(
            queue_name=delayed_queue,
            options={
                **(redelivery.options or {}),
                "retries": int(message.options.get("retries", 0)) + int(redelivery.counts),
                "eta": current_millis() + delay_ms,
                "redis_message_id": str(uuid.uuid4()),
            },
        )
        if redelivery.counts:
            # The next attempt waits for its slot and turn afresh.
            for option in _FLOW_OPTIONS:
                retry.options.pop(option, None)
        ack = MessageAck.of(self.broker, self.queue_name, redis_id)
        keys = DramatiqKeys(self.broker.namespace)
        self._retry_ack(
            keys=[
                ack.acks_key,
                ack.messages_key,
                keys.queue(delayed_queue),
                keys.messages(delayed_queue),
            ],
            args=[redis_id, retry.options["redis_message_id"], retry.encode()],
        )

    def nack(self, message: MessageProxy) -> None:
        success = _success_of(message)
        if success is not None:
            # Something after the job failed the message; the job still succeeded.
            with _connection_closed():
                self._store.finish(success.job_id, JobState.SUCCEEDED, result=success.result)
                if success.slot is not None:
                    self._store.client.zrem(success.slot.key, success.slot.member)
        super().nack(message)  # type: ignore[no-untyped-call]

    def __next__(self) -> MessageProxy | None:
        while True:
            try:
                return self._next()
            except DecodeError as exc:
                raw = exc.data if isinstance(exc.data, bytes) else str(exc.data).encode()
                reason = f"undecodable message: {exc.error}"
                if not dead_letter_raw(self.broker, self.queue_name, raw, reason):
                    logger.error(
                        "undecodable message on %s not found to dead-letter", self.queue_name
                    )

    def _next(self) -> MessageProxy | None:
        # Dramatiq's _RedisConsumer.__next__, with its idle sleep replaced by a
        # wait on the queue's wake-up list: a message the dispatcher enqueues
        # (with a token) is fetched at once instead of after the backoff.
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:
                        continue  # dramatiq#266: skipped, as dramatiq does
                    self.misses = 0
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                messages = []
                if self._paused():
                    # An operator paused the queue: take nothing new until resumed.
                    self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                    self._idle(backoff_ms / 1000)
                    return None
                if self.outstanding_message_count < self.prefetch:
                    self.message_cache = messages = self._fetch(
                        self.prefetch - self.outstanding_message_count
                    )
                if not messages:
                    self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                    self._idle(backoff_ms / 1000)
                    return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def _fetch(self, count: int) -> list[bytes | None]:
        """Up to ``count`` messages, from the highest priority's lane down.

        Dramatiq's own fetch for the delay queue, which has no lanes. Its fetch
        runs the broker's maintenance on a fraction of calls: so does this.
        """
        broker = self.broker
        if self._fetch_lanes is None or self._wake_key is None:
            fetched: list[bytes | None] = broker.do_fetch(self.queue_name, count)
            return fetched
        if broker._should_do_maintenance("fetch"):
            try:
                beat_and_maintain(broker, [self.queue_name])
            except RedisUnavailable as exc:
                raise redis.ConnectionError(str(exc)) from exc
        keys = DramatiqKeys(broker.namespace)
        fetched = self._fetch_lanes(
            keys=[
                *keys.lanes(self.queue_name),
                keys.acks(broker.broker_id, self.queue_name),
                keys.messages(self.queue_name),
                keys.heartbeats,
            ],
            args=[min(count, broker._max_unpack_size()), current_millis(), broker.broker_id],
        )
        return fetched

    def _paused(self) -> bool:
        if self._wake_key is None:
            return False  # name.DQ: its due messages only move to the (paused) queue
        try:
            return self._pauses.is_paused(self.queue_name)
        except RedisUnavailable as exc:
            raise redis.ConnectionError(str(exc)) from exc

    def _idle(self, seconds: float) -> None:
        """Wait up to ``seconds`` for new work: a wake-up token, or the time running out."""
        if self._wake_key is None:
            # The delay queue: wake for the first delayed message this thread
            # holds as it falls due, not a backoff later (jobs waiting for a
            # flow-control turn come back on time).
            time.sleep(min(seconds, _until_first_due()))
            return
        if self.outstanding_message_count >= self.prefetch:
            # A full prefetch waits for its own acks, not for new messages.
            time.sleep(seconds)
            return
        # Within the connection's read timeout, which would otherwise end the wait.
        wait = min(seconds, self._max_block_s)
        if wait < _MIN_BLOCK_S:
            time.sleep(seconds)
            return
        # A slow answer is no token: the caller fetches, and backs off, as before.
        with contextlib.suppress(redis.TimeoutError):
            self.broker.client.blpop([self._wake_key], timeout=wait)


def install_consumer(broker: RedisBroker, store: JobStore) -> None:
    """Make ``broker`` hand out :class:`JobConsumer`s (writing to ``store``) to its workers."""

    succeed_and_ack: GroupCommit[tuple[str, str, MessageAck, Slot | None], bool] = GroupCommit(
        SuccessAck(store)
    )
    retry_ack = broker.client.register_script(_RETRY_ACK)
    fetch_lanes = broker.client.register_script(_FETCH_LANES)
    # Asked on each fetch while idle: a pause reaches the consumer within 0.2 s.
    pauses = QueuePauses(store.client, store.keys, cache_s=0.2)

    def consume(queue_name: str, prefetch: int = 1, timeout: int = 5000, **_: Any) -> Consumer:
        if queue_name == dq_name(queue_name):
            with _connection_closed():
                _requeue_dropped_delays(broker, queue_name)
        return JobConsumer(
            broker,
            store,
            pauses,
            succeed_and_ack,
            retry_ack,
            queue_name,
            prefetch,
            timeout,
            fetch_lanes,
        )

    # RedisBroker has no consumer-class setting; an instance attribute is the
    # narrowest way to swap it for this broker only.
    broker.consume = consume  # type: ignore[method-assign]


def _until_first_due() -> float:
    """Seconds until the first delayed message this consumer thread holds falls due."""
    delay_queue = getattr(threading.current_thread(), "delay_queue", None)
    if delay_queue is None:
        return float("inf")
    with delay_queue.mutex:
        first = delay_queue.queue[0] if delay_queue.queue else None
    if first is None:
        return float("inf")
    return max(0.0, (float(first.priority) - current_millis()) / 1000)


def _requeue_dropped_delays(broker: RedisBroker, queue_name: str) -> None:
    """Put back the delayed messages this worker holds in Redis but no longer in memory.

    A consumer thread that loses its connection empties its in-memory delay
    queue and starts a new consumer (dramatiq's ``ConsumerThread.run``), while
    the messages stay in this worker's unacked set: no one would deliver them
    until this worker dies. The thread asking for the new consumer is that
    consumer thread, so what it still holds is known exactly.
    """
    delay_queue = getattr(threading.current_thread(), "delay_queue", None)
    if delay_queue is None:
        return  # not a dramatiq consumer thread: nothing of ours was dropped
    held = {item.message.options.get("redis_message_id") for item in list(delay_queue.queue)}
    acks_key = MessageAck.of(broker, queue_name, "").acks_key
    members = {text(m) for m in broker.client.smembers(acks_key)}
    dropped = sorted(members - held)
    if dropped:
        logger.warning("putting back %d delayed messages of %s", len(dropped), queue_name)
        broker.do_requeue(queue_name, *dropped)
