"""Redis Sentinel: every connection finds the master, and the new one after a failover."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis
from jobrelay.queue import AsyncRedis, RedisCall, RedisUnavailable, redis_client
from jobrelay.queue.codec import text

# The SentinelSet of tests/conftest.py (a conftest cannot be imported here).
SentinelSet = Any


async def test_both_clients_move_to_the_promoted_replica_without_a_restart(
    sentinel_set: SentinelSet, prefix: str
) -> None:
    settings = sentinel_set.settings(prefix)
    client = redis_client(settings)
    aio = AsyncRedis.for_client(client)
    client.set(f"{prefix}before", "1")
    assert await aio.run(RedisCall(("GET", f"{prefix}before"), text)) == "1"
    assert client.connection_pool.connection_kwargs.get("host") is None  # the sentinels say

    sentinel_set.fail_master()
    deadline = time.monotonic() + 30
    while True:  # the first calls may still meet the dead master's sockets
        try:
            client.set(f"{prefix}after", "2")
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the blocking client never reached the new master"
            await asyncio.sleep(0.2)
    while True:
        try:
            value = await aio.run(RedisCall(("GET", f"{prefix}after"), text))
            break
        except RedisUnavailable:
            assert time.monotonic() < deadline, "AsyncRedis never reached the new master"
            await asyncio.sleep(0.2)
    assert value == "2"
    # The write made before the failover reached the replica, now the master.
    assert client.get(f"{prefix}before") == b"1"
    assert client.info("server")["tcp_port"] == sentinel_set.replica.port
