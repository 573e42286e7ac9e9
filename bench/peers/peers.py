"""jobrelay against Celery, bare Dramatiq, arq and RQ: one run, one machine, one Redis.

Each system runs the same job body (``touch_common.touch``: one INCR, and the
start latency when asked; jobrelay's inside one ``ctx.run`` step) with the
same worker concurrency (8), on the same Redis server, flushed between
systems. Rounds rotate the systems' order; medians over the rounds.

- (a) enqueue throughput, one job at a time from one process;
- (b) batch enqueue, where the system has one (jobrelay ``dispatch_many``,
  Celery ``group``, RQ ``enqueue_many``);
- (c) processing throughput of ``--jobs`` jobs queued before the worker
  starts, clocked from the first job done to the last (worker start-up
  apart), with the Redis commands per job (``INFO commandstats``, the
  commands inside Lua scripts included, the bench's own polls taken off);
- (d) enqueue -> body start latency, p50 and p99, at one job every 20 ms;
- (e) the worker's memory: the RSS of its whole process tree after (c).

jobrelay dispatches on its Dramatiq path (a live worker; nothing falls
back), so its numbers are those of the path taken while Redis is healthy.
A Temporal dev server runs for its fallback and is not used.

    uv run --project bench/peers python bench/peers/peers.py [--jobs 5000] [--rounds 3]

It writes the table to stdout and the chart to ``bench/peers/peers.png``.
Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
CONCURRENCY = 8
PREFIX = "peers-jr:"
SYSTEMS = ("jobrelay", "dramatiq", "celery", "arq", "rq")


@dataclass
class Figures:
    enqueue_per_s: float = 0.0
    batch_per_s: float | None = None
    process_per_s: float = 0.0
    commands_per_job: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    rss_mb: float = 0.0


@dataclass
class System:
    """How to enqueue to one system and how to start its worker."""

    name: str
    enqueue: Callable[[int, float], Awaitable[None]]
    worker: list[str]
    env: dict[str, str] = field(default_factory=dict)
    batch: Callable[[list[int]], Awaitable[None]] | None = None
    close: Callable[[], Awaitable[None]] | None = None


async def make_system(name: str, url: str, temporal: str) -> System:
    """The system ``name``'s producer, made in this process, and its worker command."""
    bin_dir = Path(sys.executable).parent
    if name == "jobrelay":
        return await _jobrelay(url, temporal, bin_dir)
    if name == "dramatiq":
        import sys_dramatiq

        async def send(i: int, t: float) -> None:
            sys_dramatiq.dramatiq_touch.send(i, t)

        command = [str(bin_dir / "dramatiq"), "sys_dramatiq", "--processes", "1"]
        return System(name, send, [*command, "--threads", str(CONCURRENCY), "--queues", "peers"])
    if name == "celery":
        from celery import group
        from sys_celery import celery_touch

        async def delay(i: int, t: float) -> None:
            celery_touch.delay(i, t)

        async def batch(ids: list[int]) -> None:
            group(celery_touch.s(i, 0.0) for i in ids).apply_async()

        command = [str(bin_dir / "celery"), "-A", "sys_celery", "worker", "--pool", "threads"]
        return System(
            name,
            delay,
            [*command, "--concurrency", str(CONCURRENCY), "--queues", "peers", "--loglevel",
             "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            batch=batch,
        )  # fmt: skip
    if name == "arq":
        from arq import create_pool
        from arq.connections import RedisSettings

        pool = await create_pool(RedisSettings.from_dsn(url))

        async def enqueue(i: int, t: float) -> None:
            await pool.enqueue_job("arq_touch", i, t, _queue_name="peers")

        async def close() -> None:
            await pool.aclose()

        return System(name, enqueue, [str(bin_dir / "arq"), "sys_arq.WorkerSettings"], close=close)
    if name == "rq":
        from rq import Queue
        from sys_rq import rq_touch

        queue = Queue("peers", connection=redis.Redis.from_url(url))

        async def rq_enqueue(i: int, t: float) -> None:
            queue.enqueue(rq_touch, i, t)

        async def rq_batch(ids: list[int]) -> None:
            queue.enqueue_many([Queue.prepare_data(rq_touch, (i, 0.0)) for i in ids])

        command = [str(bin_dir / "rq"), "worker-pool", "-u", url, "-n", str(CONCURRENCY)]
        return System(
            name,
            rq_enqueue,
            [*command, "-w", "rq.worker.SimpleWorker", "-q", "peers"],
            batch=rq_batch,
        )
    raise SystemExit(f"unknown system {name!r}")


async def _jobrelay(url: str, temporal: str, bin_dir: Path) -> System:
    import sys_jobrelay  # noqa: F401 - registers peers.touch in this process
    from jobrelay.dispatcher import Dispatcher, DispatcherSettings, JobRequest, build_dispatcher
    from jobrelay.queue import QueueSettings, WorkerInfo, WorkerRegistry, redis_client

    queue_settings = QueueSettings(redis_url=url, prefix=PREFIX)
    dispatcher = build_dispatcher(
        DispatcherSettings(temporal_address=temporal, use_dramatiq=True),
        queue_settings,
        discover=False,
    )
    assert isinstance(dispatcher, Dispatcher)
    registry = WorkerRegistry.from_settings(redis_client(queue_settings), queue_settings)
    beat = WorkerInfo(
        worker_id="peers-bench", host="bench", pid=0, queues=["default"], started_at=time.time()
    )

    async def dispatch(i: int, t: float) -> None:
        # Jobs queued before the worker starts still go to Dramatiq: the bench
        # stands in for a live worker, as bench/dispatch_bench.py does.
        if i % 500 == 0:
            registry.heartbeat(beat)
        receipt = await dispatcher.dispatch("peers.touch", {"i": i, "t": t})
        if receipt.engine != "dramatiq":
            raise RuntimeError(f"job {i} went to {receipt.engine} ({receipt.reason})")

    async def batch(ids: list[int]) -> None:
        registry.heartbeat(beat)
        for start in range(0, len(ids), 500):
            chunk = [
                JobRequest(name="peers.touch", payload={"i": i}) for i in ids[start : start + 500]
            ]
            results = await dispatcher.dispatch_many(chunk)
            if any(r.receipt is None or r.receipt.engine != "dramatiq" for r in results):
                raise RuntimeError("a batched job did not go to Dramatiq")

    env = {
        "REDIS_URL": url,
        "JOBRELAY_PREFIX": PREFIX,
        "TEMPORAL_ADDRESS": temporal,
        "JOBRELAY_JOB_MODULES": "sys_jobrelay",
        "WORKER_CONCURRENCY": f"default={CONCURRENCY}",
    }
    command = [str(bin_dir / "jobrelay-worker"), "run", "--queue", "default"]
    return System("jobrelay", dispatch, command, env=env, batch=batch, close=dispatcher.aclose)


def _tree_rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and all its descendants, in MB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def _commands(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if not k.endswith(("info", "config")))


async def _wait_done(
    client: redis.Redis, key: str, target: int, within_s: float
) -> tuple[float, int]:
    """When the counter first moved, and how many polls it took to reach ``target``."""
    first: float | None = None
    polls = 0
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        polls += 1
        done = int(client.get(key) or 0)
        if done and first is None:
            first = time.perf_counter()
        if done >= target:
            assert first is not None
            return first, polls
        await asyncio.sleep(0.002)
    raise RuntimeError(f"only {client.get(key)} of {target} jobs done in {within_s:.0f} s")


class Worker:
    """A system's worker process group, started from ``bench/peers``."""

    def __init__(self, system: System, url: str, ns: str) -> None:
        env = {
            **os.environ,
            **system.env,
            "PEERS_REDIS_URL": url,
            "PEERS_NS": ns,
            "PYTHONPATH": str(HERE),
        }
        self.log = (HERE / f".{system.name}-worker.log").open("w")
        self.proc = subprocess.Popen(
            system.worker, cwd=HERE, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass
        self.log.close()


async def run_system(name: str, url: str, temporal: str, jobs: int, latency_jobs: int) -> Figures:
    """One round of (a)-(e) for one system on a flushed Redis."""
    client = redis.Redis.from_url(url)
    ns = f"peers-{uuid.uuid4().hex[:6]}"
    os.environ["PEERS_REDIS_URL"], os.environ["PEERS_NS"] = url, ns
    import touch_common

    touch_common.URL, touch_common.NS = url, ns
    touch_common.DONE, touch_common.LATENCY = f"{ns}:done", f"{ns}:latency"
    client.flushall()
    system = await make_system(name, url, temporal)
    figures = Figures()
    try:
        # (a) one at a time.
        enqueue_n = min(jobs, 2000)
        started = time.perf_counter()
        for i in range(enqueue_n):
            await system.enqueue(i, 0.0)
        figures.enqueue_per_s = enqueue_n / (time.perf_counter() - started)
        client.flushall()
        # (b) in batches, where there are any.
        if system.batch is not None:
            started = time.perf_counter()
            await system.batch(list(range(enqueue_n)))
            figures.batch_per_s = enqueue_n / (time.perf_counter() - started)
            client.flushall()
        # (c) and (e): queue everything, then start the worker.
        if system.batch is not None:
            await system.batch(list(range(jobs)))
        else:
            for i in range(jobs):
                await system.enqueue(i, 0.0)
        client.config_resetstat()
        before = _commands(client)
        worker = Worker(system, url, ns)
        try:
            first, polls = await _wait_done(client, touch_common.DONE, jobs, 300)
            figures.process_per_s = (jobs - 1) / (time.perf_counter() - first)
            used = _commands(client) - before - polls
            figures.commands_per_job = used / jobs
            figures.rss_mb = _tree_rss_mb(worker.proc.pid)
            # (d) at low load, the worker warm.
            for i in range(latency_jobs):
                await system.enqueue(jobs + i, time.time())
                await asyncio.sleep(0.02)
            await _wait_done(client, touch_common.DONE, jobs + latency_jobs, 60)
            waits = sorted(float(v) * 1000 for v in client.hvals(touch_common.LATENCY))
            figures.latency_p50_ms = statistics.median(waits)
            figures.latency_p99_ms = waits[min(len(waits) - 1, int(0.99 * len(waits)))]
        finally:
            worker.stop()
    finally:
        if system.close is not None:
            await system.close()
        client.close()
    return figures


def _median(rounds: list[Figures]) -> Figures:
    out = Figures()
    for name in Figures.__dataclass_fields__:
        values = [getattr(r, name) for r in rounds if getattr(r, name) is not None]
        setattr(out, name, statistics.median(values) if values else None)
    return out


def _table(results: dict[str, Figures]) -> str:
    rows = [
        "| system | enqueue/s (one by one) | enqueue/s (batch) | processed/s | "
        "Redis commands/job | start p50 ms | start p99 ms | worker RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in results.items():
        batch = f"{f.batch_per_s:,.0f}" if f.batch_per_s else "-"
        rows.append(
            f"| {name} | {f.enqueue_per_s:,.0f} | {batch} | {f.process_per_s:,.0f} | "
            f"{f.commands_per_job:.1f} | {f.latency_p50_ms:.1f} | {f.latency_p99_ms:.1f} | "
            f"{f.rss_mb:.1f} |"
        )
    return "\n".join(rows)


def _chart(results: dict[str, Figures], path: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    colors = ["#d62728" if n == "jobrelay" else "#7f7f7f" for n in names]
    panels = [
        ("enqueue, one by one (jobs/s, higher is better)", "enqueue_per_s"),
        ("processing, concurrency 8 (jobs/s, higher is better)", "process_per_s"),
        ("enqueue -> start p50 (ms, log scale, lower is better)", "latency_p50_ms"),
        ("worker memory (RSS MB, lower is better)", "rss_mb"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (title, attr) in zip(axes.flat, panels, strict=True):
        values = [getattr(results[n], attr) for n in names]
        ax.bar(names, values, color=colors)
        ax.set_title(title, fontsize=10)
        if attr == "latency_p50_ms":
            ax.set_yscale("log")
        for x, v in enumerate(values):
            ax.annotate(f"{v:,.0f}" if v >= 100 else f"{v:.1f}", (x, v), ha="center",
                        va="bottom", fontsize=8)  # fmt: skip
    fig.suptitle(f"jobrelay and its peers on one machine ({subtitle})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def main_async(opts: argparse.Namespace, url: str, temporal: str) -> dict[str, Figures]:
    rounds: dict[str, list[Figures]] = {name: [] for name in opts.systems}
    for r in range(opts.rounds):
        order = opts.systems[r % len(opts.systems) :] + opts.systems[: r % len(opts.systems)]
        for name in order:
            print(f"round {r + 1}/{opts.rounds}: {name}", file=sys.stderr, flush=True)
            rounds[name].append(await run_system(name, url, temporal, opts.jobs, opts.latency_jobs))
    return {name: _median(rounds[name]) for name in opts.systems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000, help="jobs for (c) (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--latency-jobs", type=int, default=200, help="jobs for (d)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--chart", type=Path, default=HERE / "peers.png")
    opts = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from jobrelay.devservers import RedisServer, TemporalDevServer

    with RedisServer() as redis_server, TemporalDevServer() as temporal:
        results = asyncio.run(main_async(opts, redis_server.url, temporal.address))
    print(f"{opts.jobs} jobs, concurrency {CONCURRENCY}, medians of {opts.rounds} rounds")
    print(_table(results))
    print(json.dumps({name: vars(f) for name, f in results.items()}))
    subtitle = f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, medians of {opts.rounds}"
    _chart(results, opts.chart, subtitle)
    print(f"chart: {opts.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
