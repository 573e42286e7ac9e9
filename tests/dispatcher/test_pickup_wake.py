"""A dispatch wakes an idle Dramatiq consumer at once instead of waiting out its backoff."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from jobrelay.devservers import RedisServer
from jobrelay.engines.dramatiq.worker.consumer import install_consumer
from jobrelay.queue import QueueSettings

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


async def test_a_dispatch_wakes_a_consumer_idle_for_long(
    make_stack: Callable[..., Stack], redis_server: RedisServer, prefix: str
) -> None:
    # A read timeout long enough for the consumer to block the whole wait.
    settings = QueueSettings(redis_url=redis_server.url, prefix=prefix, read_timeout_ms=30_000)
    stack = make_stack(settings)
    stack.start_heartbeat()
    broker = stack.adapter.broker
    install_consumer(broker, stack.store)
    consumer = broker.consume("default", prefetch=1, timeout=60_000)
    # Idle for a long time already: its next backoff is most of a minute.
    consumer.misses = 30
    got: list[Any] = []

    def take() -> None:
        for _ in range(3):
            message = next(consumer)
            if message is not None:
                got.append(message)
                return

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    await asyncio.sleep(0.3)  # the consumer found nothing and waits
    job_id = f"{prefix}wake"
    receipt = await stack.dispatcher().dispatch("dsp.ping", {}, job_id=job_id)
    assert receipt.engine == "dramatiq"
    # Woken by the dispatch's token: it does not sleep out the backoff (30 s
    # or more), which is what it did before.
    await asyncio.to_thread(thread.join, 10)
    try:
        assert [m.args[0] for m in got] == [job_id]
        assert broker.client.llen(f"{broker.namespace}:default.jobrelay-wake") == 0
    finally:
        for message in got:
            consumer.nack(message)
        consumer.close()
