from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from jobrelay.queue import QUEUES, get_queue

from ..producer import DramatiqAdapter


def start_worker(
    adapter: DramatiqAdapter,
    queues: Sequence[str] | None = None,
    *,
    threads: int | None = None,
    worker_timeout_ms: int = 100,
) -> dramatiq.Worker:
    """Start an in-process Dramatiq worker on ``queues`` (all when None); stop it with ``.stop()``.

    ``threads`` defaults to the sum of the queues' concurrency. Dramatiq keeps
    one event loop per process, where job bodies run, so run one worker per process.
    """
    names = [get_queue(q).name for q in (queues if queues is not None else QUEUES)]
    count = threads if threads is not None else sum(get_queue(q).concurrency for q in names)
    adapter.boot()
    worker = dramatiq.Worker(
        adapter.broker,
        queues=set(names),
        worker_timeout=worker_timeout_ms,
        worker_threads=count,
    )
    worker.start()
    loop_thread = get_event_loop_thread()
    if loop_thread is not None:
        # Sync steps run in the loop's default executor, sized for the CPU
        # (6 threads on 2 cores) rather than for I/O-bound jobs: give it one
        # thread per worker thread so every running job can be in a step.
        executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="jobrelay-step")
        loop_thread.loop.call_soon_threadsafe(loop_thread.loop.set_default_executor, executor)
    return worker
