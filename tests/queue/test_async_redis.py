"""AsyncRedis: round trips from coroutines on the loop's own connections, against a real Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest
import redis
from jobrelay.devservers import RedisServer
from jobrelay.queue import (
    AsyncRedis,
    LuaScript,
    QueueSettings,
    RedisCall,
    RedisUnavailable,
    redis_client,
)
from jobrelay.queue.codec import text

ECHO_KEY = LuaScript("return {KEYS[1], ARGV[1]}")


def _texts(reply: list[bytes]) -> list[str]:
    return [text(v) for v in reply]


async def test_a_command_and_a_script_run_and_parse(queue_settings: QueueSettings) -> None:
    client = redis_client(queue_settings)
    aio = AsyncRedis.for_client(client)
    key = f"{queue_settings.prefix}k"
    await aio.run(RedisCall(("SET", key, "v"), lambda r: None))
    assert await aio.run(RedisCall(("GET", key), text)) == "v"
    assert await aio.run(RedisCall.lua(ECHO_KEY, [key], ["a"], _texts)) == [key, "a"]
    # The same call as a blocking client runs it: one spelling, both sides.
    assert RedisCall.lua(ECHO_KEY, [key], ["b"], _texts).run(client) == [key, "b"]


async def test_a_script_redis_forgot_is_sent_whole(queue_settings: QueueSettings) -> None:
    client = redis_client(queue_settings)
    aio = AsyncRedis.for_client(client)
    script = LuaScript(f"return '{queue_settings.prefix}'")
    assert not client.script_exists(script.sha)[0]
    assert await aio.run(RedisCall.lua(script, [], [], text)) == queue_settings.prefix
    assert client.script_exists(script.sha)[0]


async def test_an_error_reply_raises_and_leaves_the_connection_in_step(
    queue_settings: QueueSettings,
) -> None:
    aio = AsyncRedis.for_client(redis_client(queue_settings))
    key = f"{queue_settings.prefix}h"
    await aio.run(RedisCall(("HSET", key, "f", "1"), int))
    with pytest.raises(redis.ResponseError):
        await aio.run(RedisCall(("INCR", key), int))  # WRONGTYPE
    assert await aio.run(RedisCall(("HGET", key, "f"), text)) == "1"


async def test_one_client_serves_every_event_loop(queue_settings: QueueSettings) -> None:
    aio = AsyncRedis.for_client(redis_client(queue_settings))
    key = f"{queue_settings.prefix}loops"
    await aio.run(RedisCall(("INCR", key), int))
    seen: list[int] = []
    # The private loop of the *_sync calls is another loop in another thread.
    thread = threading.Thread(
        target=lambda: seen.append(asyncio.run(aio.run(RedisCall(("INCR", key), int))))
    )
    thread.start()
    thread.join(30)
    assert seen == [2]
    assert await aio.run(RedisCall(("INCR", key), int)) == 3


async def test_a_restarted_redis_gets_a_fresh_connection_not_a_failed_send(
    own_redis: RedisServer,
) -> None:
    settings = QueueSettings(redis_url=own_redis.url)
    aio = AsyncRedis.for_client(redis_client(settings))
    assert await aio.run(RedisCall(("PING",), bytes)) == b"PONG"
    own_redis.stop()
    # No turn of the loop in between: the idle connection's socket is asked.
    with pytest.raises(RedisUnavailable) as stopped:
        await aio.run(RedisCall(("PING",), bytes))
    # A refused connect proves the command never left; a send on the closed
    # connection would have failed after the send, and could not prove that.
    assert "connecting to" in str(stopped.value.__cause__)
    own_redis.start()
    assert await aio.run(RedisCall(("PING",), bytes)) == b"PONG"


async def test_a_frozen_redis_times_out_without_blocking_the_loop_and_a_cancelled_call_leaves_no_reply(  # noqa: E501
    own_redis: RedisServer,
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, read_timeout_ms=1000)
    aio = AsyncRedis.for_client(redis_client(settings))
    key = "frozen"
    await aio.run(RedisCall(("SET", key, "before"), lambda r: None))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    os.kill(own_redis.pid, signal.SIGSTOP)
    try:
        with pytest.raises(RedisUnavailable):
            await aio.run(RedisCall(("GET", key), text))
        # A blocking call would have held the loop for the whole timeout: no tick.
        assert ticks > 0
        # A call cancelled while waiting: its reply must not reach the next call.
        stuck = asyncio.create_task(aio.run(RedisCall(("SET", key, "during"), text)))
        await asyncio.sleep(0.1)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)
        ticker.cancel()
    # Not the cancelled SET's "OK": that connection was closed with its reply.
    assert await aio.run(RedisCall(("ECHO", "mine"), text)) == "mine"
