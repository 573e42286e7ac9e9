"""Both engines unreachable: DispatchUnavailable with both causes, nothing half-written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from jobrelay.devservers import RedisServer, TemporalDevServer, free_port
from jobrelay.dispatcher import DispatcherSettings, DispatchUnavailable, Reconciler, TemporalLink
from jobrelay.engines.temporal import TemporalAdapter, TemporalUnavailable, connect
from jobrelay.queue import QueueSettings
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


def _unreachable_temporal(queue_settings: QueueSettings) -> TemporalLink:
    address = f"127.0.0.1:{free_port()}"

    async def connect_engine() -> TemporalAdapter:
        return TemporalAdapter(await connect(address), queue_settings)

    return TemporalLink(factory=connect_engine)


async def _connect_when_ready(address: str, within_s: float = 60.0) -> Client:
    """Connect, retrying while the port is open but the frontend is not healthy yet."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await connect(address)
        except TemporalUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _keys(stack: Stack) -> list[bytes]:
    return sorted(stack.client.keys(f"{stack.queue_settings.prefix}*"))


async def test_redis_down_and_temporal_down(
    make_stack: Callable[..., Stack], own_redis: RedisServer, prefix: str
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    stack = make_stack(settings)
    dispatcher = stack.dispatcher(temporal=_unreachable_temporal(settings))
    own_redis.stop()
    with pytest.raises(DispatchUnavailable) as info:
        await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}bd1")
    # Both refusals are immediate, and what a dispatch costs then is a figure
    # for bench/. Here: the health check decided (nothing else was tried on
    # Redis) and Temporal refused the connect.
    err = info.value
    assert err.reason == "redis_unavailable"
    assert "health check failed" in str(err.dramatiq_cause), err.dramatiq_cause
    assert isinstance(err.temporal_cause, TemporalUnavailable)
    assert "cannot connect" in str(err.temporal_cause), err.temporal_cause
    assert len(dispatcher.fallback.backfill) == 0  # nothing to write later either


async def test_no_worker_and_temporal_down_leaves_nothing_in_redis(
    stack: Stack, prefix: str
) -> None:
    dispatcher = stack.dispatcher(temporal=_unreachable_temporal(stack.queue_settings))
    before = _keys(stack)
    with pytest.raises(DispatchUnavailable) as info:
        await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}bd2")
    assert info.value.reason == "no_live_worker"
    assert _keys(stack) == before
    # No reconciler can mistake it for a job to start, however late it looks.
    report = await Reconciler(stack.store, stack.temporal).run_once(now=time.time() + 3600)
    assert (report.moved, report.repaired, report.failed) == (0, 0, 0)


async def test_temporal_stopped_after_connecting(
    make_stack: Callable[..., Stack],
    queue_settings: QueueSettings,
    prefix: str,
    dsettings: DispatcherSettings,
) -> None:
    # Its own Temporal server, connected once, then stopped: a client that
    # was fine a moment ago must fail within its timeout, not hang.
    with TemporalDevServer() as server:
        client = await _connect_when_ready(server.address)
        stack = make_stack(queue_settings)
        off = dsettings.model_copy(update={"use_dramatiq": False})
        dispatcher = stack.dispatcher(off, temporal=TemporalAdapter(client, queue_settings))
        assert (await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}up")).engine == (
            "temporal"
        )
        server.stop()
        before = _keys(stack)
        with pytest.raises(DispatchUnavailable) as info:
            await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}bd3")
        assert info.value.reason == "flag_off"
        # Ended by the adapter's 5 s timeout (its own, or the same deadline on
        # the RPC). Left alone, the SDK retries the refused connect for about
        # 10 s, then gives up with UNAVAILABLE: a clock can hardly tell 5 s
        # from 10 s on a loaded machine, the cause can.
        cause = info.value.temporal_cause
        assert isinstance(cause, TemporalUnavailable)
        timed_out = cause.__cause__
        assert isinstance(timed_out, TimeoutError) or (
            isinstance(timed_out, RPCError) and timed_out.status == RPCStatusCode.DEADLINE_EXCEEDED
        ), repr(timed_out)
        assert _keys(stack) == before
