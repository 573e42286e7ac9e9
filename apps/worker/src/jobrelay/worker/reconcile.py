"""The reconciler loop ``run`` hosts: pickup deadlines and due wake-ups."""

from __future__ import annotations

import asyncio

from jobrelay.dispatcher import DispatcherSettings, Reconciler, TemporalLink
from jobrelay.engines.dramatiq import make_broker
from jobrelay.queue import JobStore, QueueSettings, redis_client


async def run_reconciler(
    stop: asyncio.Event,
    *,
    queue_settings: QueueSettings,
    settings: DispatcherSettings,
    interval_s: float,
) -> None:
    """Move overdue unclaimed jobs to Temporal and pump wake-ups until ``stop``."""
    from jobrelay.engines.dramatiq import DramatiqAdapter

    client = redis_client(queue_settings)
    store = JobStore.from_settings(client, queue_settings)
    adapter = DramatiqAdapter(make_broker(queue_settings, client=client), store, queue_settings)
    reconciler = Reconciler(
        store,
        # Retried less often than a dispatch's: a pass runs every few seconds.
        TemporalLink.connecting(settings, queue_settings, retry_after_s=5.0),
        lease_s=settings.start_lease_s,
        resume_grace_s=settings.pickup_deadline_s,
        pump_wakeups=adapter.pump_wakeups,
    )
    await reconciler.run_forever(stop, interval_s=interval_s)
