"""Queues an operator paused: their workers take no new messages, their jobs wait.

A pause is the operator's decision, not a fault: dispatches to a paused
queue are still accepted on Dramatiq and wait (no fallback to Temporal, no
pickup deadline), and after a resume the reconciler gives them a grace
period to be picked up before their deadlines count again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from .async_redis import AsyncRedis
from .calls import RedisCall
from .codec import text
from .connection import unavailable_on_error
from .constants import Keys
from .queues import get_queue


@dataclass(frozen=True, slots=True)
class PauseState:
    """When a queue was paused (None: it runs) and last resumed (None: never)."""

    paused_at: float | None
    resumed_at: float | None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


class QueuePauses:
    """Pause, resume and ask, over ``Keys.paused_queues`` / ``Keys.resumed_queues``.

    ``is_paused`` answers from a cache at most ``cache_s`` old, so callers on
    the hot path (each dispatch, each consumer fetch) may ask every time; a
    pause or resume takes that long to reach them. Every call raises
    :class:`RedisUnavailable` when Redis does not answer.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        cache_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.keys = keys
        self.cache_s = cache_s
        self._clock = clock
        # Races between threads only cost an extra read, never a wrong answer.
        self._cache: tuple[frozenset[str], float] | None = None

    def pause(self, queue: str) -> bool:
        """Pause ``queue`` (a declared one: ``UnknownQueue`` otherwise); False if it was."""
        get_queue(queue)
        with unavailable_on_error():
            added = self.client.hsetnx(self.keys.paused_queues, queue, repr(time.time()))
        self._cache = None
        return bool(added)

    def resume(self, queue: str) -> bool:
        """Resume ``queue``; False if it was not paused."""
        get_queue(queue)
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.keys.paused_queues, queue)
        pipe.hset(self.keys.resumed_queues, queue, repr(time.time()))
        with unavailable_on_error():
            removed, _ = pipe.execute()
        self._cache = None
        return bool(removed)

    def state(self, queue: str) -> PauseState:
        """``queue``'s pause and last resume, read now (no cache)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.paused_queues, queue)
        pipe.hget(self.keys.resumed_queues, queue)
        with unavailable_on_error():
            paused_at, resumed_at = pipe.execute()
        return PauseState(_float(paused_at), _float(resumed_at))

    def is_paused(self, queue: str) -> bool:
        """Whether ``queue`` is paused, from the cache when it is fresh."""
        cached = self._fresh()
        if cached is None:
            cached = self._paused_of(self._paused_call().run(self.client))
        return queue in cached

    def cached(self, queue: str) -> bool | None:
        """Whether ``queue`` is paused, from a fresh cache only; None when it must be read."""
        cached = self._fresh()
        return None if cached is None else queue in cached

    async def ais_paused(self, queue: str) -> bool:
        """:meth:`is_paused` for coroutines: a refresh does not block the event loop."""
        cached = self._fresh()
        if cached is None:
            reply = await AsyncRedis.for_client(self.client).run(self._paused_call())
            cached = self._paused_of(reply)
        return queue in cached

    def _fresh(self) -> frozenset[str] | None:
        cache = self._cache
        if cache is not None and self._clock() - cache[1] < self.cache_s:
            return cache[0]
        return None

    def _paused_call(self) -> RedisCall[list[bytes]]:
        return RedisCall(("HKEYS", self.keys.paused_queues), list)

    def _paused_of(self, names: list[bytes]) -> frozenset[str]:
        paused = frozenset(text(n) for n in names)
        self._cache = (paused, self._clock())
        return paused


def _float(raw: object) -> float | None:
    return None if raw is None else float(text(raw))
