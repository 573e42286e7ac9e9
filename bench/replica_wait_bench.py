"""What the replica wait costs a dispatch: ``JOBRELAY_REPLICA_WAIT=1`` against 0.

Starts a Redis master with one replica (and a Temporal dev server the
dispatcher never needs here), then times ``Dispatcher.dispatch`` on the
Dramatiq path (a live worker heartbeat, nothing consuming) with and without
the wait, in alternating blocks, calls one after another. Not a test.

    uv run python bench/replica_wait_bench.py [--jobs 5000] [--block 250]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from dispatch_bench import PAYLOAD, _dispatcher, _settings  # type: ignore[import-not-found]
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher
from jobrelay.engines.temporal import TemporalAdapter, connect


async def measure(master: RedisServer, temporal_address: str, jobs: int, block: int) -> None:
    client = await connect(temporal_address, "default")
    sides: dict[str, Dispatcher] = {}
    for name, wait in (("no wait", 0), ("wait for 1 replica", 1)):
        qs = _settings(master.url, name.replace(" ", "-"))
        built = _dispatcher(qs, TemporalAdapter(client, qs), fast=True)
        built.settings = built.settings.model_copy(update={"replica_wait": wait})
        sides[name] = built
    times: dict[str, list[float]] = {name: [] for name in sides}
    for d in sides.values():  # warm
        await d.dispatch("bench.dispatch", PAYLOAD, job_id=uuid.uuid4().hex)
    for _ in range(0, jobs, block):
        for name, d in sides.items():
            for _ in range(block):
                started = time.perf_counter()
                receipt = await d.dispatch("bench.dispatch", PAYLOAD)
                times[name].append(time.perf_counter() - started)
                if receipt.engine != "dramatiq":
                    raise SystemExit(
                        f"{name}: a dispatch went to {receipt.engine} ({receipt.reason})"
                    )
    print(f"{jobs} dispatches per side, alternating blocks of {block}")
    print("| replica wait | dispatch/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for name, ts in times.items():
        ordered = sorted(ts)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        rate, p50 = len(ts) / sum(ts), statistics.median(ts)
        print(f"| {name} | {rate:.0f} | {p50 * 1000:.3f} | {p99 * 1000:.3f} |")
    base, waited = (len(ts) / sum(ts) for ts in times.values())
    print(f"with the wait / without: {waited / base:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--block", type=int, default=250)
    opts = parser.parse_args(argv)
    with RedisServer() as master, RedisServer(replica_of=master.port), TemporalDevServer() as t:
        asyncio.run(measure(master, t.address, opts.jobs, opts.block))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
