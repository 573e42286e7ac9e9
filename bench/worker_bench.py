"""Worker throughput: a trivial job through the Dramatiq adapter vs a bare Dramatiq actor.

Both run on the same real Redis, in an in-process ``dramatiq.Worker`` with the
same threads and prefetch, as the worker runtime runs them (with its
``WorkerStats`` middleware and timed broker maintenance). The clock runs from
worker start, with every message already queued, until the last one is
processed. Rounds alternate between the two so machine noise hits both.

    uv run python bench/worker_bench.py [--jobs 3000] [--threads 8] [--rounds 5]

Results and the machine they were measured on: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from jobrelay.devservers import RedisServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import WorkerStats, beat_and_maintain, start_worker
from jobrelay.job_engine import JobContext, job
from jobrelay.queue import JobRecord, JobStore, QueueSettings, redis_client
from jobrelay.worker.periodic import Periodic


@job("bench.noop", queue="default")
async def noop(ctx: JobContext, data: dict[str, Any]) -> None:
    return None


def drain(stats: WorkerStats, jobs: int, start: Callable[[], dramatiq.Worker]) -> float:
    """Seconds from worker start until ``jobs`` messages were processed."""
    began = time.perf_counter()
    worker = start()
    keeper = Periodic(
        "maintenance",
        1.0,
        lambda: beat_and_maintain(worker.broker, sorted(worker.consumers)),  # type: ignore[arg-type]
    ).start()
    try:
        while sum(stats.counts()) < jobs:
            time.sleep(0.002)
        elapsed = time.perf_counter() - began
    finally:
        keeper.stop()
        worker.stop()
    done, failed = stats.counts()
    assert failed == 0 and done == jobs, (done, failed)
    return elapsed


def bare_round(redis_url: str, jobs: int, threads: int) -> float:
    settings = QueueSettings(redis_url=redis_url, prefix=f"bench-bare-{uuid.uuid4().hex[:6]}:")
    broker: RedisBroker = make_broker(settings)
    stats = WorkerStats()
    broker.add_middleware(stats)

    @dramatiq.actor(broker=broker, queue_name="default", actor_name="bare_noop")
    async def bare_noop(n: int) -> None:
        return None

    for n in range(jobs):
        bare_noop.send(n)

    def start() -> dramatiq.Worker:
        broker.emit_after("process_boot")
        worker = dramatiq.Worker(
            broker, queues={"default"}, worker_timeout=100, worker_threads=threads
        )
        worker.start()
        return worker

    return drain(stats, jobs, start)


def adapter_round(redis_url: str, jobs: int, threads: int) -> float:
    settings = QueueSettings(redis_url=redis_url, prefix=f"bench-adapter-{uuid.uuid4().hex[:6]}:")
    client = redis_client(settings)
    store = JobStore.from_settings(client, settings)
    broker = make_broker(settings, client=client)
    stats = WorkerStats()
    broker.add_middleware(stats)
    adapter = DramatiqAdapter(broker, store, settings)
    job_ids = [uuid.uuid4().hex for _ in range(jobs)]
    for job_id in job_ids:
        # What dispatch_job writes before it enqueues.
        store.create(JobRecord(job_id=job_id, name="bench.noop", queue="default"))
        adapter.enqueue(EngineJob(job_id=job_id, name="bench.noop", queue="default", payload={}))
    elapsed = drain(stats, jobs, lambda: start_worker(adapter, ["default"], threads=threads))
    states = [client.hget(settings.keys.job(job_id), "state") for job_id in job_ids]
    succeeded = states.count(b"succeeded")
    assert succeeded == jobs, f"only {succeeded} of {jobs} jobs succeeded"
    return elapsed


def _fmt(rates: list[float]) -> str:
    return ", ".join(f"{rate:.0f}" for rate in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    bare: list[float] = []
    adapter: list[float] = []
    with RedisServer() as server:
        for _ in range(args.rounds):
            bare.append(args.jobs / bare_round(server.url, args.jobs, args.threads))
            adapter.append(args.jobs / adapter_round(server.url, args.jobs, args.threads))
    b, a = statistics.median(bare), statistics.median(adapter)
    print(f"jobs per round: {args.jobs}, threads: {args.threads}, rounds: {args.rounds}")
    print(f"bare dramatiq actor : {b:8.0f} jobs/s  (rounds: {', '.join(f'{x:.0f}' for x in bare)})")
    print(
        f"jobrelay adapter    : {a:8.0f} jobs/s  (rounds: {', '.join(f'{x:.0f}' for x in adapter)})"
    )
    print(f"adapter / bare      : {a / b:8.2f}x  (target >= 0.70x)")


if __name__ == "__main__":
    main()
