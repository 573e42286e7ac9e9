from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from jobrelay.devservers import RedisServer
from jobrelay.queue import (
    BreakerState,
    CircuitBreaker,
    JobStore,
    QueueSettings,
    RedisHealth,
    RedisUnavailable,
    redis_client,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_transitions() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=5, clock=clock)
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN  # type: ignore[comparison-overlap]
    assert not breaker.allow()
    clock.now = 5
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # one probe at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_call_against_stopped_redis_fails_instead_of_hanging(own_redis: RedisServer) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix="h:")
    store = JobStore.from_settings(redis_client(settings), settings)
    assert store.owner("x") is None
    own_redis.stop()
    started = time.monotonic()
    with pytest.raises(RedisUnavailable):
        store.owner("x")
    # A refused connection fails in milliseconds; a client that waited for
    # Redis to come back would hang here for good. 5 s is room for a loaded
    # machine, not a speed target (that figure belongs in bench/).
    assert time.monotonic() - started < 5.0


def test_blackholed_redis_times_out_instead_of_hanging() -> None:
    # A listening socket that never answers: the read timeout, not a refusal, must end the call.
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        url = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
        client = redis_client(QueueSettings(redis_url=url, read_timeout_ms=300))
        started = time.monotonic()
        with pytest.raises(RedisUnavailable):
            JobStore(client, QueueSettings().keys).owner("x")
        # The 300 ms read timeout ends it; without one the call waits forever
        # (nothing ever answers). 5 s is ~15x the timeout: room for a loaded
        # machine, and still fails a missing or ignored timeout.
        assert time.monotonic() - started < 5.0
    finally:
        sock.close()


def test_breaker_opens_when_redis_stops_and_closes_after_restart(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The 2 s reset only has to outlast the 100 checks below (about a
    # millisecond of work), so none of them meets a half-open probe.
    settings = QueueSettings(redis_url=own_redis.url, health_cache_ms=100, breaker_reset_ms=2000)
    client = redis_client(settings)
    pings = _count_pings(client, monkeypatch)
    health = RedisHealth.from_settings(client, settings)
    assert health.is_healthy()
    assert health.state is BreakerState.CLOSED

    own_redis.stop()
    time.sleep(0.15)  # let the cached answer age
    assert not health.is_healthy()
    assert health.state is BreakerState.OPEN  # type: ignore[comparison-overlap]
    assert len(pings) == 2  # the two checks so far each asked Redis
    for _ in range(100):
        assert not health.is_healthy()
    assert len(pings) == 2, "an open breaker sent PINGs to Redis"
    assert health.state is BreakerState.OPEN

    own_redis.start()
    # Closes at the first probe after the 2 s reset; one that never closes spins here.
    deadline = time.monotonic() + 20
    while not health.is_healthy():
        assert time.monotonic() < deadline, "breaker never closed after restart"
        time.sleep(0.05)
    assert health.state is BreakerState.CLOSED


def _count_pings(client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """Every PING ``client`` sends from now on (one entry each, sent or failed)."""
    sent: list[None] = []
    ping = client.ping

    def counted(**kwargs: Any) -> Any:
        sent.append(None)
        return ping(**kwargs)

    monkeypatch.setattr(client, "ping", counted)
    return sent
