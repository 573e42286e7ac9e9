"""The scheduler loop ``run`` hosts: the jobs' schedules fired through a dispatcher."""

from __future__ import annotations

import asyncio

from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.queue import QueueSettings
from jobrelay.scheduler import Scheduler, ScheduleStore


async def run_schedules(
    stop: asyncio.Event,
    *,
    queue_settings: QueueSettings,
    settings: DispatcherSettings,
    interval_s: float,
) -> None:
    """Fire due ticks until ``stop``; other schedulers may fire the same ticks (run once)."""
    # A worker host reaches Redis itself: never through the dispatch proxy.
    direct = settings.model_copy(update={"use_dispatch_proxy": False, "dispatch_proxy_url": None})
    dispatcher = build_dispatcher(direct, queue_settings)
    assert isinstance(dispatcher, Dispatcher)
    await dispatcher.connect()
    try:
        store = ScheduleStore(dispatcher.store.client, queue_settings.keys)
        await Scheduler(dispatcher, store, interval_s=interval_s).run_forever(stop)
    finally:
        await dispatcher.aclose()
