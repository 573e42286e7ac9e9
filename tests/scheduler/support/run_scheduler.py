"""One scheduler process for the tests: settings from the environment, until SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import QueueSettings, redis_client
from jobrelay.scheduler import Scheduler, ScheduleStore


async def main() -> None:
    discover_jobs(["jobrelay_sched_testjobs"])
    queue_settings = QueueSettings()
    dispatcher = build_dispatcher(DispatcherSettings(), queue_settings)
    assert isinstance(dispatcher, Dispatcher)
    await dispatcher.connect()
    store = ScheduleStore(redis_client(queue_settings), queue_settings.keys)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("scheduling", flush=True)
    await Scheduler(dispatcher, store, interval_s=0.1).run_forever(stop)
    await dispatcher.aclose()


if __name__ == "__main__":
    asyncio.run(main())
