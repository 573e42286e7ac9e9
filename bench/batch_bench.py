"""Batch dispatch: ``Dispatcher.dispatch_many`` per job against a bare ``actor.send()`` loop.

Starts its own Redis and Temporal dev server, then measures in one run, in
alternating rounds:

- **bare**: ``actor.send()`` one job at a time with the arguments a jobrelay
  message carries (``job_id, name, payload``);
- **batch**: ``Dispatcher.dispatch_many`` of ``--size`` jobs (``JobRequest``
  items, a live worker heartbeat, nothing consuming), the Dramatiq path;

and reports the time per job of each and their ratio (target: the batch
>= 10x the bare loop per job). Medians over the rounds. Not a test.

    uv run python bench/batch_bench.py [--size 500] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import dramatiq
from dispatch_bench import PAYLOAD, _dispatcher, _settings  # type: ignore[import-not-found]
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import JobRequest
from jobrelay.engines.dramatiq import make_broker
from jobrelay.engines.temporal import TemporalAdapter, connect


async def measure(redis_url: str, temporal_address: str, size: int, rounds: int) -> None:
    broker = make_broker(_settings(redis_url, "bare"))

    @dramatiq.actor(broker=broker, queue_name="default", actor_name="bare_send")
    async def bare_send(job_id: str, name: str, payload: dict[str, Any]) -> None:
        return None

    qs = _settings(redis_url, "batch")
    client = await connect(temporal_address, "default")
    dispatcher = _dispatcher(qs, TemporalAdapter(client, qs), fast=True)

    def bare() -> float:
        started = time.perf_counter()
        for _ in range(size):
            bare_send.send(uuid.uuid4().hex, "bench.dispatch", PAYLOAD)
        return (time.perf_counter() - started) / size

    async def batch() -> float:
        jobs = [JobRequest(name="bench.dispatch", payload=PAYLOAD) for _ in range(size)]
        started = time.perf_counter()
        results = await dispatcher.dispatch_many(jobs)
        elapsed = time.perf_counter() - started
        wrong = [r for r in results if r.receipt is None or r.receipt.engine != "dramatiq"]
        if wrong:
            raise RuntimeError(f"{len(wrong)} jobs did not go to Dramatiq, e.g. {wrong[0]}")
        return elapsed / size

    bare()  # warm: scripts loaded, caches filled, connections open
    await batch()
    bare_s, batch_s = [], []
    for _ in range(rounds):
        bare_s.append(bare())
        batch_s.append(await batch())
    b, m = statistics.median(bare_s), statistics.median(batch_s)
    print(f"{size} jobs per batch, {rounds} rounds, medians")
    print("| path | us per job | jobs/s |")
    print("|---|---:|---:|")
    print(f"| bare `actor.send()` loop | {b * 1e6:.1f} | {1 / b:.0f} |")
    print(f"| `dispatch_many` ({size}) | {m * 1e6:.1f} | {1 / m:.0f} |")
    print(f"dispatch_many / bare send, per job: {b / m:.1f}x (target >= 10x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=500, help="jobs per batch (default 500)")
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (default 7)")
    opts = parser.parse_args(argv)
    with RedisServer() as redis_server, TemporalDevServer() as temporal:
        asyncio.run(measure(redis_server.url, temporal.address, opts.size, opts.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
