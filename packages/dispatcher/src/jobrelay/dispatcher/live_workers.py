from __future__ import annotations

import time
from collections.abc import Callable

from jobrelay.queue import AsyncRedis, WorkerRegistry


class LiveWorkers:
    """``WorkerRegistry.live_count`` cached per queue, so admission costs no round trip.

    A cached answer is at most ``cache_s`` old: a worker that just started is
    seen within that time, one that just died is still counted for that
    long (the pickup deadline covers that window). Raises
    :class:`RedisUnavailable` when a refresh cannot reach Redis.
    """

    def __init__(
        self,
        registry: WorkerRegistry,
        *,
        cache_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.cache_s = cache_s
        self._clock = clock
        # queue -> (live count, when counted). Races between threads only cost
        # an extra refresh, never a wrong answer, so no lock.
        self._cache: dict[str, tuple[int, float]] = {}

    def cached(self, queue: str) -> bool | None:
        """The answer of :meth:`any_live` while its count is fresh; None when it must be read."""
        cached = self._cache.get(queue)
        if cached is not None and self._clock() - cached[1] < self.cache_s:
            return cached[0] > 0
        return None

    async def any_live(self, queue: str) -> bool:
        """Whether at least one worker of ``queue`` sent a heartbeat within its TTL.

        A refresh is a round trip made with :class:`AsyncRedis`: it does not
        block the caller's event loop.
        """
        cached = self.cached(queue)
        if cached is not None:
            return cached
        redis = AsyncRedis.for_client(self.registry.client)
        count = await redis.run(self.registry.live_count_call(queue))
        self._cache[queue] = (count, self._clock())
        return count > 0
