"""The job body every system runs: one INCR, plus the start latency when asked.

A job carries ``i`` (its number) and ``t`` (the wall time it was enqueued, 0
for throughput runs). Keys live under ``PEERS_NS`` on ``PEERS_REDIS_URL``.
"""

from __future__ import annotations

import os
import time

import redis

URL = os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/0")
NS = os.environ.get("PEERS_NS", "peers")
DONE = f"{NS}:done"
LATENCY = f"{NS}:latency"

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """One blocking client per process, made on first use (never at import)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(URL)
    return _client


def touch(i: int, t: float) -> int:
    """The body: count the job; with ``t``, record how long it waited to start."""
    started = time.time()
    pipe = client().pipeline(transaction=False)
    pipe.incr(DONE)
    if t:
        pipe.hset(LATENCY, str(i), repr(started - t))
    return int(pipe.execute()[0])
