from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import redis

from .async_redis import AsyncRedis
from .breaker import BreakerState, CircuitBreaker
from .calls import RedisCall, ignore
from .errors import RedisUnavailable
from .settings import QueueSettings

_PING: RedisCall[None] = RedisCall(("PING",), ignore)


class RedisHealth:
    """Cached PING behind a circuit breaker.

    ``is_healthy()`` costs no round trip while the cached answer is fresh or
    the breaker is open, so callers may ask on every dispatch;
    ``ais_healthy()`` is the same for coroutines.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        cache_s: float = 1.0,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._cache_s = cache_s
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._healthy = False

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: QueueSettings) -> RedisHealth:
        """Build a probe with the cache and breaker thresholds of ``settings``."""
        breaker = CircuitBreaker(
            failure_threshold=settings.breaker_failure_threshold,
            reset_after_s=settings.breaker_reset_ms / 1000,
        )
        return cls(client, cache_s=settings.health_cache_ms / 1000, breaker=breaker)

    @property
    def state(self) -> BreakerState:
        return self.breaker.state

    def is_healthy(self) -> bool:
        """Whether Redis answered recently; probes at most once per cache period."""
        known = self._known()
        if known is not None:
            return known
        try:
            self._client.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            self.record_failure()
            return False
        self.record_success()
        return True

    async def ais_healthy(self) -> bool:
        """:meth:`is_healthy` for coroutines: its probe does not block the event loop."""
        known = self._known()
        if known is not None:
            return known
        try:
            await AsyncRedis.for_client(self._client).run(_PING)
        except RedisUnavailable:
            self.record_failure()
            return False
        except asyncio.CancelledError:
            # The caller gave up, Redis did not fail: free the breaker's probe.
            self.breaker.forget_probe()
            raise
        self.record_success()
        return True

    def cached(self) -> bool | None:
        """The cached answer while it is fresh and the breaker closed, else None (no side effect).

        For a hot path: it costs no probe and no await; on None ask :meth:`ais_healthy`.
        """
        with self._lock:
            fresh = (
                self._checked_at is not None and self._clock() - self._checked_at < self._cache_s
            )
            if fresh and self.breaker.state is BreakerState.CLOSED:
                return self._healthy
        return None

    def _known(self) -> bool | None:
        # The answer without a probe: the cached one, or False while the
        # breaker refuses; None when a probe is due.
        cached = self.cached()
        if cached is not None:
            return cached
        if not self.breaker.allow():
            return False
        return None

    def record_success(self) -> None:
        """Note a successful Redis call made elsewhere."""
        self.breaker.record_success()
        with self._lock:
            self._checked_at = self._clock()
            self._healthy = True

    def record_failure(self) -> None:
        """Note a failed Redis call made elsewhere: opens the breaker at the threshold."""
        self.breaker.record_failure()
        with self._lock:
            self._checked_at = self._clock()
            self._healthy = False
