"""Telling an admit that never reached Redis from one whose reply was lost."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from jobrelay.devservers import RedisServer, free_port
from jobrelay.dispatcher.admission import may_have_landed
from jobrelay.queue import RedisUnavailable, unavailable_on_error
from redis.backoff import NoBackoff
from redis.retry import Retry


def _failure(call: object) -> RedisUnavailable:
    with pytest.raises(RedisUnavailable) as info, unavailable_on_error():
        call()  # type: ignore[operator]
    return info.value


def test_a_refused_connection_proves_the_command_never_ran() -> None:
    client = redis.Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

    assert may_have_landed(_failure(lambda: client.set("k", "v"))) is False


def test_a_connection_cut_after_the_send_may_have_run_it(redis_server: RedisServer) -> None:
    victim = redis.Redis.from_url(redis_server.url, retry=Retry(NoBackoff(), 0))
    victim_id = victim.client_id()
    killer = redis.Redis.from_url(redis_server.url)

    def cut_when_blocked() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            clients = killer.client_list()
            if any(int(c["id"]) == victim_id and c["cmd"] == "blpop" for c in clients):
                killer.client_kill_filter(_id=str(victim_id))
                return
            time.sleep(0.01)

    cutter = threading.Thread(target=cut_when_blocked)
    cutter.start()
    # The command reached Redis (it is blocked there) when the connection dies.
    failure = _failure(lambda: victim.blpop(["admit-outcome-never"], timeout=10))
    cutter.join()

    assert may_have_landed(failure) is True
