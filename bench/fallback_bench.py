"""Fallback throughput: jobs through ``jobrelay-worker temporal`` vs a bare sandboxed worker.

Starts its own Redis and Temporal dev server, then in one run measures N jobs
of K steps two ways, each round through a freshly started worker process:

- **jobrelay**: dispatched with ``USE_DRAMATIQ=false`` through the real
  dispatcher (``build_dispatcher`` + ``dispatch``), run by ``jobrelay-worker
  temporal --queue default`` (job module ``bench/jobrelay_fallback_jobs.py``,
  named in ``JOBRELAY_JOB_MODULES``): K ``ctx.run`` steps of a trivial function.
- **bare**: ``client.start_workflow`` of a workflow of K trivial activities,
  run by a plain ``temporalio`` worker (``bench/fallback_bare.py``: default
  ``SandboxedWorkflowRunner``, ``max_concurrent_activities`` = the queue's
  concurrency, 16 for ``default``, as jobrelay's worker sets it).

Both wait for completion the same way: the bench holds one handle per
workflow (``handle.result()`` on a second client; for jobrelay the workflow
id is the job id). jobrelay's Redis records are checked afterwards
(``succeeded``, with the job's result). Modes:

- ``burst``: all N started at once; the clock runs from the first start until
  the last workflow finished.
- ``steady``: one start every 1/``--rate`` s (open loop: starts do not wait for
  earlier jobs); reports the throughput achieved and each job's latency from
  its scheduled start to its finish (p50/p99).

Each mode runs with bytecode ``warm`` (worker processes may use and write
.pyc; a discarded warm-up round per side fills the caches first) and
``none`` (``PYTHONDONTWRITEBYTECODE=1`` and a fresh, empty
``PYTHONPYCACHEPREFIX`` per worker: every import, the sandbox's included,
compiles from source). jobrelay and bare rounds alternate; medians of
``--rounds`` are reported with the ratio jobrelay/bare. Every wait is bounded:
a round that does not finish within ``--timeout`` reports what finished,
terminates the rest and moves on. Each round uses its own Redis prefix /
task queue. Not a test.

    uv run python bench/fallback_bench.py [--jobs 300] [--steps 1] [--rounds 3]
        [--rate 20] [--modes burst,steady] [--bytecode warm,none] [--step-kind async]

Results and the machine they were measured on: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.engines.temporal import connect
from jobrelay.job_engine import discover_jobs, get_job
from jobrelay.queue import JobState, JobStore, QueueSettings, get_queue, redis_client
from temporalio.client import Client, WorkflowHandle

BENCH_DIR = Path(__file__).resolve().parent
# bench/jobrelay_fallback_jobs.py, found on PYTHONPATH like a user's job package.
JOB_MODULE = "jobrelay_fallback_jobs"
ASYNC_JOB = "bench.fallback.async_steps"  # its ASYNC_JOB and SYNC_JOB
SYNC_JOB = "bench.fallback.sync_steps"
WORKER_BIN = str(Path(sys.executable).parent / "jobrelay-worker")
QUEUE = "default"
JOBRELAY_READY = "temporal workers polling"  # logged by jobrelay-worker temporal
BARE_READY = "bare worker polling"  # logged by fallback_bare.py (READY_LINE)
BARE_WORKFLOW = "bench.bare.steps"  # fallback_bare.WORKFLOW
SIDES = ("bare", "jobrelay")
MODES = ("burst", "steady")
BYTECODE = ("warm", "none")
# Variables of the parent's environment a worker must not inherit: the bench sets its own.
_STRIPPED = (
    "WORKER_",
    "JOBRELAY_",
    "USE_DRAMATIQ",
    "USE_DISPATCH_PROXY",
    "DISPATCH_PROXY_",
    "TEMPORAL_",
    "REDIS_",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)


class BenchError(Exception):
    """A round could not run (a worker that never became ready, say)."""


# -- worker processes ---------------------------------------------------------


class WorkerProcess:
    """A worker subprocess in a session of its own, stopped by its PID."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.spawned = time.perf_counter()
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                list(argv), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    async def wait_ready(self, marker: str, timeout_s: float) -> float:
        """Seconds from spawn until ``marker`` is in the log; BenchError if it never is."""
        deadline = self.spawned + timeout_s
        while time.perf_counter() < deadline:
            if marker in self.log():
                return time.perf_counter() - self.spawned
            if not self.alive():
                raise BenchError(f"worker exited ({self.proc.returncode}) before it was ready")
            await asyncio.sleep(0.05)
        raise BenchError(f"worker not ready after {timeout_s:.0f}s")

    async def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; the exit code (None if killed)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                await asyncio.to_thread(self.proc.wait, 10)
                return None
        return self.proc.returncode


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a crash leaves its Python stack in the worker's log
    return env


def _bytecode_env(bytecode: str, scratch: Path) -> tuple[dict[str, str], Path | None]:
    """Environment for a worker in ``bytecode`` mode; the empty pycache dir it must keep empty."""
    if bytecode == "warm":
        return {}, None
    prefix = Path(tempfile.mkdtemp(prefix="pycache-", dir=scratch))
    return {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(prefix)}, prefix


# -- one side of the comparison -----------------------------------------------


class Side(Protocol):
    """Starts workflows and the worker that runs them, fresh for each round."""

    name: str
    ready_marker: str

    async def prepare(self) -> None: ...

    def worker_argv(self) -> list[str]: ...

    def worker_env(self) -> dict[str, str]: ...

    async def start(self, i: int) -> WorkflowHandle[Any, Any]: ...

    async def check(self, i: int, result: Any) -> None: ...

    async def verify(self, finished: Sequence[int]) -> str: ...


def _token(i: int) -> str:
    return f"t{i}"


@dataclass
class BareSide:
    address: str
    start_client: Client
    wait_client: Client
    steps: int
    sync: bool
    name: str = "bare"
    ready_marker: str = BARE_READY
    task_queue: str = ""

    async def prepare(self) -> None:
        self.task_queue = f"bench-fallback-bare-{uuid.uuid4().hex[:8]}"

    def worker_argv(self) -> list[str]:
        return [
            sys.executable,
            "-c",
            "import fallback_bare; fallback_bare.main()",
            self.address,
            self.task_queue,
            str(get_queue(QUEUE).concurrency),
        ]

    def worker_env(self) -> dict[str, str]:
        return {}

    async def start(self, i: int) -> WorkflowHandle[Any, Any]:
        handle = await self.start_client.start_workflow(
            BARE_WORKFLOW,
            {"steps": self.steps, "token": _token(i), "sync": self.sync},
            id=f"{self.task_queue}-{i}",
            task_queue=self.task_queue,
            rpc_timeout=timedelta(seconds=10),
        )
        return self.wait_client.get_workflow_handle(handle.id)

    async def check(self, i: int, result: Any) -> None:
        if result != _token(i):
            raise BenchError(f"bare workflow {i} returned {result!r}")

    async def verify(self, finished: Sequence[int]) -> str:
        return ""


@dataclass
class JobrelaySide:
    address: str
    redis_url: str
    status_dir: Path
    wait_client: Client
    steps: int
    sync: bool
    name: str = "jobrelay"
    ready_marker: str = JOBRELAY_READY
    settings: QueueSettings | None = None
    dispatcher: Dispatcher | None = None
    job_ids: dict[int, str] = field(default_factory=dict)

    @property
    def job_name(self) -> str:
        return SYNC_JOB if self.sync else ASYNC_JOB

    async def prepare(self) -> None:
        self.settings = QueueSettings(
            redis_url=self.redis_url, prefix=f"bench-fallback-{uuid.uuid4().hex[:8]}:"
        )
        built = build_dispatcher(
            DispatcherSettings(use_dramatiq=False, temporal_address=self.address),
            self.settings,
            discover=False,
        )
        assert isinstance(built, Dispatcher), "USE_DISPATCH_PROXY must be off"
        self.dispatcher = built
        self.job_ids = {}
        # Outside the clock: the dispatcher connects to Temporal on first use.
        async with asyncio.timeout(30):
            await built.temporal.get()
        built.health.is_healthy()

    def worker_argv(self) -> list[str]:
        return [WORKER_BIN, "temporal", "--queue", QUEUE]

    def worker_env(self) -> dict[str, str]:
        assert self.settings is not None
        return {
            "REDIS_URL": self.redis_url,
            "JOBRELAY_PREFIX": self.settings.prefix,
            "TEMPORAL_ADDRESS": self.address,
            "JOBRELAY_JOB_MODULES": JOB_MODULE,
            "WORKER_STATUS_DIR": str(self.status_dir),
            "WORKER_GRACE_PERIOD_S": "5",
        }

    async def start(self, i: int) -> WorkflowHandle[Any, Any]:
        assert self.dispatcher is not None
        receipt = await self.dispatcher.dispatch(
            self.job_name, {"steps": self.steps, "token": _token(i)}
        )
        if receipt.engine != "temporal":
            raise BenchError(f"job {i} went to {receipt.engine} ({receipt.reason})")
        self.job_ids[i] = receipt.job_id
        # Workflow id = job id (TemporalAdapter.start).
        return self.wait_client.get_workflow_handle(receipt.job_id)

    async def check(self, i: int, result: Any) -> None:
        return None  # the Redis record says more: see verify

    async def verify(self, finished: Sequence[int]) -> str:
        """Every finished workflow left a ``succeeded`` record with the job's result."""
        assert self.settings is not None
        settings = self.settings
        store = JobStore.from_settings(redis_client(settings), settings)

        def bad() -> list[str]:
            wrong = []
            for i in finished:
                record = store.get(self.job_ids[i])
                if record is None:
                    wrong.append(f"{i}: no record")
                elif record.state != JobState.SUCCEEDED:
                    wrong.append(f"{i}: {record.state.value} {record.error or ''}")
                elif record.result is None or json.loads(record.result) != _token(i):
                    wrong.append(f"{i}: result {record.result!r}")
            return wrong

        wrong = await asyncio.to_thread(bad)
        return f"{len(wrong)} bad records ({'; '.join(wrong[:3])})" if wrong else ""


# -- rounds ---------------------------------------------------------------------


@dataclass
class Round:
    side: str
    mode: str
    bytecode: str
    jobs: int
    ready_s: float = 0.0
    finished: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    all_started_s: float | None = None
    latencies: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why the round is incomplete
    remarks: list[str] = field(default_factory=list)  # odd, but the figures stand

    @property
    def complete(self) -> bool:
        return self.finished == self.jobs and not self.notes

    @property
    def throughput(self) -> float:
        return self.finished / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def pct_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        text = (
            f"{self.bytecode:>4} {self.mode:<6} {self.side:<8} {self.finished}/{self.jobs}"
            f" in {self.elapsed_s:6.2f} s = {self.throughput:7.1f} jobs/s,"
            f" p50 {_ms(self.pct_ms(0.5)):>7} ms, p99 {_ms(self.pct_ms(0.99)):>7} ms,"
            f" worker ready in {self.ready_s:.1f} s"
        )
        if self.all_started_s is not None:
            text += f", all started after {self.all_started_s:.2f} s"
        if self.failed:
            text += f", {self.failed} failed"
        return text + "".join(f" [{note}]" for note in (*self.notes, *self.remarks))


@dataclass
class Load:
    jobs: int
    mode: str
    rate: float
    timeout_s: float
    settle_s: float
    ready_timeout_s: float


async def _drive(side: Side, worker: WorkerProcess, load: Load, out: Round) -> None:
    """Start the jobs (burst or steady) and wait, bounded, for their results."""
    done_at: dict[int, float] = {}
    started_at: dict[int, float] = {}
    errors: list[str] = []
    handles: dict[int, WorkflowHandle[Any, Any]] = {}

    async def one(i: int, due: float) -> None:
        try:
            handle = await side.start(i)
            started_at[i] = time.perf_counter()
            handles[i] = handle
            result = await handle.result()
            finished = time.perf_counter()
            await side.check(i, result)
        except Exception as exc:
            errors.append(f"{i}: {exc!r}"[:200])
            out.failed += 1
            return
        done_at[i] = finished
        out.latencies.append(finished - due)

    steady = load.mode == "steady"
    tasks: list[asyncio.Task[None]] = []
    began = time.perf_counter()
    if steady:
        for i in range(load.jobs):
            due = began + i / load.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if not worker.alive():
                break
            tasks.append(asyncio.create_task(one(i, due)))
    else:
        tasks = [asyncio.create_task(one(i, began)) for i in range(load.jobs)]
    last_due = began + ((load.jobs - 1) / load.rate if steady else 0.0)
    deadline = last_due + load.timeout_s
    pending: set[asyncio.Task[None]] = set(tasks)
    while pending and worker.alive():
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(1.0, left))
    stopped = time.perf_counter()
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)

    out.finished = len(done_at)
    out.elapsed_s = (max(done_at.values()) if not pending and done_at else stopped) - began
    if len(started_at) == load.jobs:
        out.all_started_s = max(started_at.values()) - began
    if len(tasks) < load.jobs:
        out.notes.append(f"worker exited: {len(tasks)} of {load.jobs} started")
    if pending:
        why = "worker exited" if not worker.alive() else f"timed out after {load.timeout_s:.0f}s"
        out.notes.append(f"{why}: {len(pending)} unfinished")
        await _terminate([h for i, h in handles.items() if i not in done_at])
    if errors:
        out.notes.append(f"errors: {'; '.join(errors[:2])}")
    if problem := await side.verify(sorted(done_at)):
        out.notes.append(problem)


async def _terminate(handles: Sequence[WorkflowHandle[Any, Any]]) -> None:
    """Terminate what a cut-short round left running, so it loads no later round."""

    async def end(handle: WorkflowHandle[Any, Any]) -> None:
        with contextlib.suppress(Exception):
            await handle.terminate(reason="bench round over", rpc_timeout=timedelta(seconds=5))

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            for start in range(0, len(handles), 50):
                await asyncio.gather(*(end(h) for h in handles[start : start + 50]))


async def run_round(
    side: Side, load: Load, bytecode: str, scratch: Path, log_dir: Path, label: str
) -> Round:
    out = Round(side=side.name, mode=load.mode, bytecode=bytecode, jobs=load.jobs)
    await side.prepare()
    extra, pycache = _bytecode_env(bytecode, scratch)
    env = _base_env() | extra | side.worker_env()
    worker = WorkerProcess(side.worker_argv(), env, log_dir / f"{label}-{side.name}.log")
    try:
        out.ready_s = await worker.wait_ready(side.ready_marker, load.ready_timeout_s)
        await asyncio.sleep(load.settle_s)  # let its pollers reach the server
        await _drive(side, worker, load, out)
    except BenchError as exc:
        out.notes.append(str(exc))
        print(worker.tail(), file=sys.stderr)
    finally:
        code = await worker.stop()
    if code is None:
        out.remarks.append("worker killed: it did not stop on SIGTERM")
    elif code != 0 and not out.notes:
        # After the results are in; see the worker's log (faulthandler is on).
        out.remarks.append(f"worker exit code {code} on SIGTERM")
    if pycache is not None and any(pycache.iterdir()):
        out.notes.append(f"{pycache} is not empty: bytecode was written")
    print(out.line(), flush=True)
    return out


# -- report -----------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _summary(rounds: list[Round]) -> tuple[str, float, float, float, float]:
    finished = f"{sum(r.finished for r in rounds)}/{sum(r.jobs for r in rounds)}"
    if any(not r.complete for r in rounds):
        finished += " *"
    return (
        finished,
        _median([r.throughput for r in rounds]),
        _median([r.pct_ms(0.5) for r in rounds]),
        _median([r.pct_ms(0.99) for r in rounds]),
        _median([r.ready_s for r in rounds]),
    )


def _report(results: dict[tuple[str, str, str], list[Round]], args: argparse.Namespace) -> None:
    kind = "sync" if args.step_kind == "sync" else "async"
    print()
    print(
        f"{args.jobs} jobs of {args.steps} {kind} step(s) per round, {args.rounds} rounds,"
        f" steady rate {args.rate:.3g}/s, queue {QUEUE!r}"
        f" ({get_queue(QUEUE).concurrency} concurrent activities); medians of rounds"
    )
    print()
    print(
        "| mode | bytecode | worker | finished | jobs/s | p50 ms | p99 ms | ready s"
        " | rounds jobs/s |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    for (mode, bytecode, side), rounds in results.items():
        finished, tput, p50, p99, ready = _summary(rounds)
        each = ", ".join(f"{r.throughput:.1f}" for r in rounds)
        print(
            f"| {mode} | {bytecode} | {side} | {finished} | {tput:.1f} | {_ms(p50)} | {_ms(p99)}"
            f" | {ready:.1f} | {each} |"
        )
    print()
    print("| mode | bytecode | jobrelay/bare jobs/s | jobrelay/bare p50 | jobrelay/bare p99 |")
    print("|---|---|---:|---:|---:|")
    for mode in args.modes:
        for bytecode in args.bytecode:
            bare = results.get((mode, bytecode, "bare"))
            relay = results.get((mode, bytecode, "jobrelay"))
            if not bare or not relay:
                continue
            _, bt, b50, b99, _ = _summary(bare)
            _, jt, j50, j99, _ = _summary(relay)
            print(
                f"| {mode} | {bytecode} | **{_ratio(jt, bt)}** | {_ratio(j50, b50)}"
                f" | {_ratio(j99, b99)} |"
            )
    print()
    print(
        "jobs/s: burst = N / (first start -> last finish); steady = finished / (first start"
        " -> last finish). Latency: scheduled start -> result seen by the bench."
        " '*': some round did not finish every job (see its line above)."
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 and not math.isnan(a) and not math.isnan(b) else "-"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


# -- main ---------------------------------------------------------------------------


def _csv(choices: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        items = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [item for item in items if item not in choices]
        if not items or unknown:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {choices}")
        return items

    return parse


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("jobrelay").setLevel(logging.WARNING)  # no per-dispatch log lines
    scratch = Path(tempfile.mkdtemp(prefix="jobrelay-fallback-bench-"))
    log_dir = scratch / "logs"
    log_dir.mkdir()
    status_dir = scratch / "status"
    print(f"worker logs: {log_dir}", flush=True)
    sync = args.step_kind == "sync"
    sys.path.insert(0, str(BENCH_DIR))
    discover_jobs([JOB_MODULE])  # the dispatcher validates names and payloads
    get_job(SYNC_JOB if sync else ASYNC_JOB)
    with RedisServer() as redis_server, TemporalDevServer() as temporal_server:
        address = temporal_server.address
        bare_start, bare_wait = await Client.connect(address), await Client.connect(address)
        relay_wait = await connect(address)
        bare = BareSide(address, bare_start, bare_wait, args.steps, sync)
        relay = JobrelaySide(address, redis_server.url, status_dir, relay_wait, args.steps, sync)
        sides: tuple[Side, Side] = (bare, relay)

        def load(mode: str, jobs: int) -> Load:
            return Load(jobs, mode, args.rate, args.timeout, args.settle, args.ready_timeout)

        if args.warmup_jobs > 0:
            print(f"warm-up (discarded): {args.warmup_jobs} jobs per side, bytecode warm")
            for side in sides:
                await run_round(
                    side, load("burst", args.warmup_jobs), "warm", scratch, log_dir, "warmup"
                )
        results: dict[tuple[str, str, str], list[Round]] = {}
        for bytecode in args.bytecode:
            for mode in args.modes:
                for n in range(args.rounds):
                    for side in sides:
                        label = f"{bytecode}-{mode}-{n}"
                        out = await run_round(
                            side, load(mode, args.jobs), bytecode, scratch, log_dir, label
                        )
                        results.setdefault((mode, bytecode, side.name), []).append(out)
        _report(results, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300, help="jobs per round (N)")
    parser.add_argument("--steps", type=int, default=1, help="steps (activities) per job (K)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side, mode and bytecode")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="steady mode: starts per second (default 20/K: about half what the bare worker"
        " does in a burst on a 2-core machine)",
    )
    parser.add_argument("--modes", type=_csv(MODES), default=list(MODES))
    parser.add_argument("--bytecode", type=_csv(BYTECODE), default=list(BYTECODE))
    parser.add_argument("--step-kind", choices=("async", "sync"), default="async")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds a round may run after its last start before it is cut short",
    )
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after worker ready")
    parser.add_argument("--warmup-jobs", type=int, default=10, help="0: no warm-up round")
    parsed = parser.parse_args()
    if parsed.rate is None:
        parsed.rate = 20.0 / max(1, parsed.steps)
    if parsed.jobs < 1 or parsed.steps < 0 or parsed.rounds < 1 or parsed.rate <= 0:
        parser.error("--jobs and --rounds must be >= 1, --steps >= 0, --rate > 0")
    asyncio.run(main(parsed))
