"""Dispatch cost: ``Dispatcher.dispatch`` against the bare engine call it wraps.

Starts its own Redis and Temporal dev server, then measures in one run:

- the Dramatiq path (``confirm="admission"``, a live worker heartbeat, no
  consumer) against a bare ``actor.send()`` loop carrying the same arguments;
- the same path without the one-round-trip fast path (record, then
  ``DramatiqAdapter.enqueue``), to show what the fast path buys;
- the Temporal path (``USE_DRAMATIQ=false``: record + claim in Redis, start,
  confirm) against a bare ``client.start_workflow`` loop.

Each call is timed on its own; calls run one after another, as a request
handler makes them. A path and its baseline alternate in blocks of calls, so
load from other processes on the machine hits both alike. Not a test.

    uv run python bench/dispatch_bench.py [--jobs 20000] [--temporal-jobs 1000] [--block 200]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, LiveWorkers
from jobrelay.dispatcher.fast_enqueue import DramatiqMessages
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.temporal import WORKFLOW_NAME, TemporalAdapter, connect
from jobrelay.job_engine import JobContext, job
from jobrelay.queue import (
    JobStore,
    QueueSettings,
    RedisHealth,
    WorkerInfo,
    WorkerRegistry,
    redis_client,
)
from jobrelay.worker.periodic import Periodic
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy


class Booking(BaseModel):
    booking_id: int
    email: str
    note: str = ""


@job("bench.dispatch", queue="default", payload=Booking)
async def bench_dispatch(ctx: JobContext, data: Booking) -> None:
    return None


PAYLOAD = {"booking_id": 42, "email": "guest@example.com", "note": "window seat"}


@dataclass
class Sample:
    seconds: list[float]

    @property
    def throughput(self) -> float:
        return len(self.seconds) / sum(self.seconds)

    def pct_ms(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _async_loop(n: int, call: Callable[[int], Awaitable[Any]]) -> Sample:
    out = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        out.append(time.perf_counter() - started)
    return Sample(out)


def _settings(redis_url: str, tag: str) -> QueueSettings:
    return QueueSettings(redis_url=redis_url, prefix=f"bench-{tag}-{uuid.uuid4().hex[:6]}:")


def _dispatcher(
    qs: QueueSettings, temporal: TemporalAdapter, *, fast: bool, use_dramatiq: bool = True
) -> Dispatcher:
    client = redis_client(qs)
    store = JobStore.from_settings(client, qs)
    adapter = DramatiqAdapter(make_broker(qs), store, qs)
    registry = WorkerRegistry.from_settings(client, qs)
    # A live worker for the queue, beating as the worker app does; nothing
    # consumes. (One beat is not enough: a slow run outlives its TTL and
    # the rest of the dispatches would measure the Temporal fallback.)
    info = WorkerInfo(
        worker_id="bench",
        host=socket.gethostname(),
        pid=0,
        queues=["default"],
        started_at=time.time(),
    )
    Periodic("bench-heartbeat", 1.0, lambda: registry.heartbeat(info)).start()
    return Dispatcher(
        DispatcherSettings(use_dramatiq=use_dramatiq),
        store=store,
        health=RedisHealth.from_settings(client, qs),
        workers=LiveWorkers(registry),
        dramatiq=adapter,
        temporal=temporal,
        messages=DramatiqMessages(adapter) if fast else None,
    )


async def dramatiq_pair(redis_url: str, temporal: TemporalAdapter, *, fast: bool) -> Pair:
    """Bare ``actor.send()`` and the Dramatiq path of ``dispatch``, ready to alternate."""
    broker = make_broker(_settings(redis_url, "bare"))

    @dramatiq.actor(broker=broker, queue_name="default", actor_name="bare_send")
    async def bare_send(job_id: str, name: str, payload: dict[str, Any]) -> None:
        return None

    async def bare(i: int) -> None:
        # The same arguments a jobrelay message carries: (job_id, name, payload).
        bare_send.send(uuid.uuid4().hex, "bench.dispatch", PAYLOAD)

    dispatcher = _dispatcher(_settings(redis_url, "fast" if fast else "slow"), temporal, fast=fast)

    async def dispatch(i: int) -> None:
        receipt = await dispatcher.dispatch("bench.dispatch", PAYLOAD)
        if receipt.engine != "dramatiq":
            raise RuntimeError(f"dispatch {i} went to {receipt.engine} ({receipt.reason})")

    return Pair(bare, dispatch)


async def temporal_pair(
    redis_url: str, client: Client, temporal: TemporalAdapter, *, adapter_only: bool = False
) -> Pair:
    """Bare ``client.start_workflow`` and the Temporal path of ``dispatch``.

    ``adapter_only`` pairs it with ``TemporalAdapter.start`` alone instead, to
    show what the adapter's call costs apart from the dispatcher's Redis work.
    """
    task_queue = f"bench-bare-{uuid.uuid4().hex[:6]}.default"

    async def bare(i: int) -> None:
        job_id = uuid.uuid4().hex
        await client.start_workflow(
            WORKFLOW_NAME,
            EngineJob(job_id=job_id, name="bench.dispatch", queue="default", payload=PAYLOAD),
            id=job_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            rpc_timeout=timedelta(seconds=5),
        )

    dispatcher = _dispatcher(_settings(redis_url, "tdisp"), temporal, fast=True, use_dramatiq=False)

    async def dispatch(i: int) -> None:
        await dispatcher.dispatch("bench.dispatch", PAYLOAD)

    return Pair(bare, dispatch)


@dataclass
class Pair:
    baseline: Callable[[int], Awaitable[None]]
    candidate: Callable[[int], Awaitable[None]]

    async def run(self, total: int, block: int) -> tuple[Sample, Sample]:
        """Alternate blocks of ``block`` calls until each side made ``total``."""
        await self.baseline(-1)  # warm: scripts loaded, caches filled, connections open
        await self.candidate(-1)
        base, cand = Sample([]), Sample([])
        for start in range(0, total, block):
            n = min(block, total - start)
            base.seconds += (await _async_loop(n, self.baseline)).seconds
            cand.seconds += (await _async_loop(n, self.candidate)).seconds
        return base, cand


def _row(name: str, sample: Sample) -> tuple[str, float, float, float]:
    return name, sample.throughput, sample.pct_ms(0.5), sample.pct_ms(0.99)


def _print(rows: list[tuple[str, float, float, float]]) -> None:
    print(f"| {'path':<44} | {'dispatch/s':>10} | {'p50 ms':>7} | {'p99 ms':>7} |")
    print(f"|{'-' * 46}|{'-' * 12}:|{'-' * 8}:|{'-' * 8}:|")
    for name, tput, p50, p99 in rows:
        print(f"| {name:<44} | {tput:>10.0f} | {p50:>7.3f} | {p99:>7.3f} |")


async def main(jobs: int, temporal_jobs: int, block: int) -> None:
    logging.disable(logging.WARNING)  # no log handler cost in the loops either way
    with RedisServer() as redis_server, TemporalDevServer() as temporal_server:
        client = await connect(temporal_server.address)
        temporal = TemporalAdapter(client, _settings(redis_server.url, "t"))
        url = redis_server.url
        bare, fast = await (await dramatiq_pair(url, temporal, fast=True)).run(jobs, block)
        bare2, slow = await (await dramatiq_pair(url, temporal, fast=False)).run(jobs, block)
        tblock = max(1, block // 10)
        tbare, tdisp = await (await temporal_pair(url, client, temporal)).run(temporal_jobs, tblock)
        tbare2, tadapter = await (
            await temporal_pair(url, client, temporal, adapter_only=True)
        ).run(temporal_jobs, tblock)
        rows = [
            _row("bare actor.send()", bare),
            _row("dispatch_job, Dramatiq path (one round trip)", fast),
            _row("bare actor.send() (2nd pairing)", bare2),
            _row("dispatch_job, Dramatiq path via adapter.enqueue", slow),
            _row("bare client.start_workflow", tbare),
            _row("dispatch_job, Temporal path (flag off)", tdisp),
            _row("bare client.start_workflow (2nd pairing)", tbare2),
            _row("TemporalAdapter.start alone", tadapter),
        ]
        print(
            f"{jobs} Dramatiq / {temporal_jobs} Temporal calls per side, alternating in blocks"
            f" of {block} / {max(1, block // 10)}; throughput = calls / time spent in them"
        )
        _print(rows)
        print()
        print(f"Dramatiq path / bare send throughput: {rows[1][1] / rows[0][1]:.2f}x")
        print(f"  (via adapter.enqueue: {rows[3][1] / rows[2][1]:.2f}x)")
        print(f"Temporal path / bare start_workflow throughput: {rows[5][1] / rows[4][1]:.2f}x")
        print(f"  (TemporalAdapter.start alone: {rows[7][1] / rows[6][1]:.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--temporal-jobs", type=int, default=1000)
    parser.add_argument("--block", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.temporal_jobs, args.block))
