"""What a keyed concurrency limit costs per job: the same trivial job with and without one.

``bench.flow_keyed`` (``bench/jobrelay_flow_bench_jobs.py``) declares
``concurrency_limit=1000`` keyed by a payload field, over 100 keys: a limit
no job ever waits on, so what is measured is the limit's bookkeeping alone
(the slot taken before the claim, renewed while the job runs, freed after
it), not waiting. ``bench.flow_plain`` is the same job without it. Both do
nothing and have no steps, the harshest case: a real job's steps and work
dilute the cost.

Dramatiq: every message queued first, then an in-process worker drains them
(as ``bench/worker_bench.py``); throughput is jobs over the time from worker
start to the last job done. Temporal (``--engine temporal``): the workflows
are started first, then an in-process worker runs them. Redis round trips
per job are counted in this process's client (a command, a script call or a
pipeline each count once) over the drain, divided by the jobs (heartbeats,
idle waits and maintenance included, alike for both). Rounds alternate
between the two jobs so load from other processes hits both alike; medians
are reported, with their ratio.

    uv run python bench/flow_bench.py [--jobs 2000] [--threads 16] [--rounds 5]
    uv run python bench/flow_bench.py --engine temporal [--jobs 300] [--rounds 3]

Results and the machine they were measured on: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import WorkerStats, start_worker
from jobrelay.engines.temporal import TemporalAdapter, connect
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.queue import JobRecord, JobStore, QueueSettings, redis_client
from jobrelay_flow_bench_jobs import KEYED_JOB, PLAIN_JOB  # type: ignore[import-not-found]
from worker_bench import drain  # type: ignore[import-not-found]

# The jobs' module, found on sys.path (this script's directory) like a user's job package.
JOB_MODULE = "jobrelay_flow_bench_jobs"

KEYS = 100


class RoundTrips:
    """Counts this process's blocking Redis round trips: commands, script calls, pipelines."""

    def __init__(self) -> None:
        self._count = itertools.count()
        self._seen = 0

    def install(self) -> None:
        count = self._count
        command: Callable[..., Any] = redis.Redis.execute_command
        pipeline: Callable[..., Any] = redis.client.Pipeline.execute

        def counted_command(self: redis.Redis, *args: Any, **kwargs: Any) -> Any:
            next(count)
            return command(self, *args, **kwargs)

        def counted_pipeline(self: redis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
            next(count)
            return pipeline(self, *args, **kwargs)

        redis.Redis.execute_command = counted_command  # type: ignore[method-assign]
        redis.client.Pipeline.execute = counted_pipeline  # type: ignore[method-assign]

    def read(self) -> int:
        """Round trips so far (the counter's own reads left out)."""
        seen = next(self._count) - self._seen
        self._seen += 1
        return seen


TRIPS = RoundTrips()


def dramatiq_round(redis_url: str, name: str, jobs: int, threads: int) -> tuple[float, float]:
    """Jobs per second and Redis commands per job of one drain of ``jobs`` jobs ``name``."""
    settings = QueueSettings(redis_url=redis_url, prefix=f"bench-flow-{uuid.uuid4().hex[:6]}:")
    client = redis_client(settings)
    store = JobStore.from_settings(client, settings)
    broker = make_broker(settings, client=client)
    stats = WorkerStats()
    broker.add_middleware(stats)
    adapter = DramatiqAdapter(broker, store, settings)
    job_ids = [uuid.uuid4().hex for _ in range(jobs)]
    for i, job_id in enumerate(job_ids):
        payload = {"key": f"k{i % KEYS}"}
        # What dispatch_job writes before it enqueues.
        store.create(JobRecord(job_id=job_id, name=name, queue="default"))
        adapter.enqueue(EngineJob(job_id=job_id, name=name, queue="default", payload=payload))
    before = TRIPS.read()
    elapsed = drain(stats, jobs, lambda: start_worker(adapter, ["default"], threads=threads))
    commands = TRIPS.read() - before
    states = [client.hget(settings.keys.job(job_id), "state") for job_id in job_ids]
    assert states.count(b"succeeded") == jobs, "not every job succeeded"
    return jobs / elapsed, commands / jobs


async def temporal_round(redis_url: str, address: str, name: str, jobs: int) -> tuple[float, float]:
    """Jobs per second and Redis commands per job of ``jobs`` workflows of job ``name``."""
    settings = QueueSettings(redis_url=redis_url, prefix=f"bench-flow-{uuid.uuid4().hex[:6]}:")
    client = redis_client(settings)
    store = JobStore.from_settings(client, settings)
    temporal = await connect(address)
    adapter = TemporalAdapter(temporal, settings)
    engine_jobs = [
        EngineJob(
            job_id=uuid.uuid4().hex, name=name, queue="default", payload={"key": f"k{i % KEYS}"}
        )
        for i in range(jobs)
    ]
    for chunk in range(0, jobs, 50):
        await asyncio.gather(*(adapter.start(j) for j in engine_jobs[chunk : chunk + 50]))
    before = TRIPS.read()
    began = time.perf_counter()
    async with make_worker(temporal, settings, "default", store=store, job_modules=[JOB_MODULE]):
        handles = [temporal.get_workflow_handle(j.job_id) for j in engine_jobs]
        for handle in handles:
            await handle.result()
        elapsed = time.perf_counter() - began
    return jobs / elapsed, (TRIPS.read() - before) / jobs


def _median_pair(
    rounds: list[tuple[float, float]],
) -> tuple[float, float]:
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


def _report(
    engine: str, plain: list[tuple[float, float]], keyed: list[tuple[float, float]]
) -> None:
    (p_rate, p_cmds), (k_rate, k_cmds) = _median_pair(plain), _median_pair(keyed)
    print(f"engine: {engine}")
    print(
        f"without a limit : {p_rate:8.0f} jobs/s, {p_cmds:5.2f} round trips/job"
        f"  (rounds: {', '.join(f'{r:.0f}' for r, _ in plain)})"
    )
    print(
        f"keyed limit     : {k_rate:8.0f} jobs/s, {k_cmds:5.2f} round trips/job"
        f"  (rounds: {', '.join(f'{r:.0f}' for r, _ in keyed)})"
    )
    print(
        f"keyed / plain   : {k_rate / p_rate:8.2f}x throughput, "
        f"{k_cmds - p_cmds:+.2f} round trips per job"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["dramatiq", "temporal"], default="dramatiq")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    TRIPS.install()
    plain: list[tuple[float, float]] = []
    keyed: list[tuple[float, float]] = []
    with RedisServer() as server:
        if args.engine == "dramatiq":
            jobs, rounds = args.jobs or 2000, args.rounds or 5
            for _ in range(rounds):
                plain.append(dramatiq_round(server.url, PLAIN_JOB, jobs, args.threads))
                keyed.append(dramatiq_round(server.url, KEYED_JOB, jobs, args.threads))
            print(f"jobs per round: {jobs}, threads: {args.threads}, rounds: {rounds}")
        else:
            jobs, rounds = args.jobs or 300, args.rounds or 3
            with TemporalDevServer() as temporal:
                address = temporal.address
                for _ in range(rounds):
                    for name, into in ((PLAIN_JOB, plain), (KEYED_JOB, keyed)):
                        into.append(asyncio.run(_retrying(server.url, address, name, jobs)))
            print(f"jobs per round: {jobs}, rounds: {rounds}")
    _report(args.engine, plain, keyed)


async def _retrying(redis_url: str, address: str, name: str, jobs: int) -> tuple[float, float]:
    # A dev server just started may refuse the first connect for a moment.
    for attempt in range(20):
        try:
            return await temporal_round(redis_url, address, name, jobs)
        except Exception as exc:
            if attempt == 19 or "connect" not in str(exc).lower():
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


if __name__ == "__main__":
    main()
