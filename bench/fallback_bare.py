"""The bare baseline of bench/fallback_bench.py: a sandboxed Temporal worker, no jobrelay.

A workflow of K trivial activities, run by a plain ``temporalio`` worker with
the default ``SandboxedWorkflowRunner`` and the task-queue settings of
jobrelay's worker (``max_concurrent_activities`` = the queue's concurrency).
The bench starts it as a fresh process per round, with bench/ on PYTHONPATH::

    python -c "import fallback_bare; fallback_bare.main()" ADDRESS TASK_QUEUE CONCURRENCY

(imported by its module name, not run as ``__main__``: the sandbox imports the
workflow's module afresh for each run, as it does jobrelay's job modules).
It logs ``READY_LINE`` once polling and drains on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

WORKFLOW = "bench.bare.steps"
READY_LINE = "bare worker polling"
STEP_TIMEOUT = timedelta(seconds=60)


@dataclass
class BareInput:
    steps: int
    token: str
    sync: bool = False


@activity.defn(name="bench.bare.touch_async")
async def touch_async(token: str) -> str:
    return token


@activity.defn(name="bench.bare.touch_sync")
def touch_sync(token: str) -> str:
    return token


@workflow.defn(name=WORKFLOW)
class BareSteps:
    @workflow.run
    async def run(self, data: BareInput) -> str:
        token = data.token
        for _ in range(data.steps):
            token = await workflow.execute_activity(
                touch_sync if data.sync else touch_async,
                token,
                start_to_close_timeout=STEP_TIMEOUT,
            )
        return token


async def serve(address: str, task_queue: str, concurrency: int) -> None:
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=concurrency) as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[BareSteps],
            activities=[touch_async, touch_sync],
            activity_executor=executor,  # for the sync activity, as Temporal runs them
            max_concurrent_activities=concurrency,
        )
        run = asyncio.create_task(worker.run())
        logging.getLogger("bench.bare").info("%s %s", READY_LINE, task_queue)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([run, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not run.done():
            await worker.shutdown()
        await run


def main() -> None:
    address, task_queue, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(address, task_queue, concurrency))
    logging.shutdown()
    # Skip interpreter finalization: the SDK's core threads can still call into
    # Python while it runs ("PyGILState_Release ... finalizing", SIGABRT/SIGSEGV
    # seen on a loaded machine). The worker has shut down cleanly by now.
    os._exit(0)
