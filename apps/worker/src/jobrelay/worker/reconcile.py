"""The reconciler loop ``run`` hosts: pickup deadlines and due wake-ups."""

from __future__ import annotations

import asyncio

from jobrelay.dispatcher import DispatcherSettings, Reconciler, TemporalLink
from jobrelay.dispatcher.adapters.base import TemporalEngine
from jobrelay.queue import JobStore, QueueSettings, make_broker, redis_client


def temporal_link(settings: DispatcherSettings, queue_settings: QueueSettings) -> TemporalLink:
    """A Temporal engine connected on first use (and retried after a failed connect)."""

    async def connect_engine() -> TemporalEngine:
        from jobrelay.dispatcher.adapters.temporal import TemporalAdapter, connect

        client = await connect(settings.temporal_address, settings.temporal_namespace)
        return TemporalAdapter(client, queue_settings)

    return TemporalLink(factory=connect_engine, retry_after_s=5.0)


async def run_reconciler(
    stop: asyncio.Event,
    *,
    queue_settings: QueueSettings,
    settings: DispatcherSettings,
    interval_s: float,
) -> None:
    """Move overdue unclaimed jobs to Temporal and pump wake-ups until ``stop``."""
    from jobrelay.dispatcher.adapters.dramatiq import DramatiqAdapter

    client = redis_client(queue_settings)
    store = JobStore.from_settings(client, queue_settings)
    adapter = DramatiqAdapter(make_broker(queue_settings, client=client), store, queue_settings)
    reconciler = Reconciler(
        store,
        temporal_link(settings, queue_settings),
        lease_s=settings.start_lease_s,
        pump_wakeups=adapter.pump_wakeups,
    )
    await reconciler.run_forever(stop, interval_s=interval_s)
