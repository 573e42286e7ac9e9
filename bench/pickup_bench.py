"""Dispatch -> job start latency on both engines, at low load and under load.

Starts its own Redis and Temporal dev server, a Dramatiq worker
(``jobrelay-worker run``) and a Temporal worker (``jobrelay-worker temporal``),
8 threads / activity slots each, then dispatches ``bench.pickup`` jobs through
a real dispatcher: on the Dramatiq path (a live worker, ``USE_DRAMATIQ`` on)
and on the Temporal path (``USE_DRAMATIQ`` off). A job's first step records
the time from its dispatch call to the step's start. Two loads per engine:

- **low**: ``--jobs`` jobs, one every 20 ms;
- **high**: ``--jobs`` jobs at ``--rate`` per second.

Prints p50 and p99 per engine and load. Not a test.

    uv run python bench/pickup_bench.py [--jobs 300] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
from fallback_bench import WorkerProcess, _base_env  # type: ignore[import-not-found]
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.queue import QueueSettings, WorkerRegistry, redis_client
from jobrelay_pickup_jobs import JOB, PICKUP_KEY  # type: ignore[import-not-found]

WORKER_BIN = str(Path(sys.executable).parent / "jobrelay-worker")
THREADS = 8


async def _send(dispatcher: Dispatcher, tags: list[str], interval_s: float) -> None:
    next_at = time.perf_counter()
    for tag in tags:
        receipt = await dispatcher.dispatch(JOB, {"tag": tag, "dispatched_at": time.time()})
        wanted = "dramatiq" if dispatcher.settings.use_dramatiq else "temporal"
        if receipt.engine != wanted:
            raise SystemExit(f"{tag} went to {receipt.engine} ({receipt.reason}), not {wanted}")
        next_at += interval_s
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


async def _waits(client: redis.Redis, tags: list[str], within_s: float) -> list[float]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        values = client.hmget(PICKUP_KEY, tags)
        if all(v is not None for v in values):
            return sorted(float(v) * 1000 for v in values if v is not None)
        await asyncio.sleep(0.1)
    raise SystemExit(f"jobs never started: {sum(v is None for v in values)} of {len(tags)}")


async def measure(redis_url: str, temporal_address: str, jobs: int, rate: float) -> None:
    prefix = f"pickup-{uuid.uuid4().hex[:6]}:"
    env = {
        **_base_env(),
        "REDIS_URL": redis_url,
        "JOBRELAY_PREFIX": prefix,
        "TEMPORAL_ADDRESS": temporal_address,
        "JOBRELAY_JOB_MODULES": "jobrelay_pickup_jobs",
        "PICKUP_REDIS_URL": redis_url,
        "WORKER_CONCURRENCY": f"default={THREADS}",
    }
    logs = Path(tempfile.mkdtemp(prefix="pickup-bench-"))
    workers = [
        WorkerProcess([WORKER_BIN, "run", "--queue", "default"], env, logs / "dramatiq.log"),
        WorkerProcess([WORKER_BIN, "temporal", "--queue", "default"], env, logs / "temporal.log"),
    ]
    queue_settings = QueueSettings(redis_url=redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        await workers[1].wait_ready("temporal workers polling", 120)
        registry = WorkerRegistry.from_settings(redis_client(queue_settings), queue_settings)
        for _ in range(600):  # the Dramatiq worker's first heartbeat, within a minute
            if registry.live_count("default"):
                break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit("the Dramatiq worker never sent a heartbeat")
        rows = []
        for engine, use_dramatiq in (("dramatiq", True), ("temporal", False)):
            built = build_dispatcher(
                DispatcherSettings(temporal_address=temporal_address, use_dramatiq=use_dramatiq),
                queue_settings,
                discover=False,
            )
            assert isinstance(built, Dispatcher)
            await built.connect()
            warm = [f"{engine}-warm-{i}" for i in range(20)]
            await _send(built, warm, 0.02)
            await _waits(client, warm, 120)
            for load, interval in (
                ("low (one per 20 ms)", 0.02),
                (f"high ({rate:.0f}/s)", 1 / rate),
            ):
                tags = [f"{engine}-{load[:3]}-{i}" for i in range(jobs)]
                await _send(built, tags, interval)
                waits = await _waits(client, tags, 300)
                p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))]
                rows.append((engine, load, statistics.median(waits), p99))
            await built.aclose()
    finally:
        for worker in workers:
            await worker.stop()
        client.close()
    print(f"{jobs} jobs per row, {THREADS} worker threads / activity slots per engine")
    print("| engine | load | dispatch -> start p50 ms | p99 ms |")
    print("|---|---|---:|---:|")
    for engine, load, p50, p99 in rows:
        print(f"| {engine} | {load} | {p50:.1f} | {p99:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300, help="jobs per engine and load")
    parser.add_argument("--rate", type=float, default=200.0, help="jobs/s of the high load")
    opts = parser.parse_args(argv)
    with RedisServer() as redis_server, TemporalDevServer() as temporal:
        asyncio.run(measure(redis_server.url, temporal.address, opts.jobs, opts.rate))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
