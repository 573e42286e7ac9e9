from __future__ import annotations

import time

import redis
from pydantic import BaseModel, Field

from .calls import RedisCall
from .codec import text
from .connection import unavailable_on_error
from .constants import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, Keys
from .settings import QueueSettings


class WorkerInfo(BaseModel):
    """What a worker says about itself in each heartbeat."""

    worker_id: str
    host: str
    pid: int
    engine: str = ENGINE_DRAMATIQ
    queues: list[str]
    concurrency: dict[str, int] = Field(default_factory=dict)
    version: str = ""
    started_at: float
    last_seen: float = 0.0
    jobs_done: int = 0
    jobs_failed: int = 0


class WorkerRegistry:
    """Worker heartbeats with a TTL: a worker that stops beating drops out by itself."""

    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_s: float = 10.0):
        self.client = client
        self.keys = keys
        self.ttl_s = ttl_s

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: QueueSettings) -> WorkerRegistry:
        """A registry under the prefix and heartbeat TTL of ``settings``."""
        return cls(client, settings.keys, ttl_s=settings.heartbeat_ttl_s)

    def heartbeat(self, info: WorkerInfo) -> None:
        """Record that ``info``'s worker is alive now, for its queues."""
        now = time.time()
        info = info.model_copy(update={"last_seen": now})
        pipe = self.client.pipeline(transaction=True)
        pipe.set(
            self.keys.worker(info.worker_id), info.model_dump_json(), px=int(self.ttl_s * 1000)
        )
        for queue in info.queues:
            live = self.keys.workers(queue, info.engine)
            pipe.zadd(live, {info.worker_id: now})
            # Trim entries long dead so the set stays as small as the fleet.
            pipe.zremrangebyscore(live, "-inf", now - 10 * self.ttl_s)
        with unavailable_on_error():
            pipe.execute()

    def deregister(
        self, worker_id: str, queues: list[str], *, engine: str = ENGINE_DRAMATIQ
    ) -> None:
        """Remove a worker at once, as a clean shutdown does."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.worker(worker_id))
        for queue in queues:
            pipe.zrem(self.keys.workers(queue, engine), worker_id)
        with unavailable_on_error():
            pipe.execute()

    def get(self, worker_id: str) -> WorkerInfo | None:
        """The last heartbeat of ``worker_id``, or None once it stopped or its TTL ran out."""
        with unavailable_on_error():
            raw = self.client.get(self.keys.worker(worker_id))
        return None if raw is None else WorkerInfo.model_validate_json(raw)

    def live_count(self, queue: str) -> int:
        """How many Dramatiq workers of ``queue`` beat within the TTL (one round trip)."""
        return self.live_count_call(queue).run(self.client)

    def live_count_call(self, queue: str) -> RedisCall[int]:
        """:meth:`live_count` as a call, for :class:`AsyncRedis` to run from a coroutine."""
        return RedisCall(
            ("ZCOUNT", self.keys.workers(queue), time.time() - self.ttl_s, "+inf"), int
        )

    def live_workers(
        self, queue: str, engines: tuple[str, ...] = (ENGINE_DRAMATIQ, ENGINE_TEMPORAL)
    ) -> list[WorkerInfo]:
        """The live workers of ``queue`` on ``engines``, with their last heartbeat."""
        since = time.time() - self.ttl_s
        pipe = self.client.pipeline(transaction=False)
        for engine in engines:
            pipe.zrangebyscore(self.keys.workers(queue, engine), since, "+inf")
        with unavailable_on_error():
            ids = [text(i) for found in pipe.execute() for i in found]
            if not ids:
                return []
            raw = self.client.mget([self.keys.worker(i) for i in ids])
        return [WorkerInfo.model_validate_json(r) for r in raw if r is not None]
