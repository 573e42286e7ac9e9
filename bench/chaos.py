"""Chaos run: a steady stream of jobs on a real stack while faults keep coming.

Starts Redis with AOF (``appendfsync always``), the Temporal dev server, two
``jobrelay-worker run`` supervisors (one child per queue, hosting the
reconciler and wake-up pump), a ``jobrelay-worker temporal`` worker, and a
separate "ledger" Redis that is never faulted and only counts side effects.
Then, from this process, it dispatches ``chaos.three_steps`` jobs at a steady
rate through a real dispatcher while a seeded fault injector keeps doing, at
random, one of:

- ``worker_kill``: kill -9 of a Dramatiq queue process (its supervisor restarts it);
- ``worker_freeze``: SIGSTOP of one past its heartbeat TTL, then SIGCONT;
- ``temporal_worker_kill``: kill -9 of a Temporal worker (restarted by this harness);
- ``redis_kill``: kill -9 of Redis and a restart on its AOF (same port and dir);
- ``redis_outage``: Redis down for ``--outage-s`` under the stream, at most
  once every 10 minutes (rounds in between skip it: ``redis_kill`` already
  takes Redis away in every round);
- ``temporal_restart``: stop and restart of the Temporal server (state kept);
- ``client_kill``: ``CLIENT KILL`` of every normal and pubsub Redis connection.

Afterwards it stops faults and stream, waits for the jobs to drain, reads the
ledger and prints one table. Exit code 0 only when no job was lost, none
finished twice, no finished step ran again, none got stuck after the last
fault and every outage backlog finished within ``--stuck-after-s`` of Redis
coming back; 2 when only that drain was slower; 1 otherwise.

    uv run python bench/chaos.py [--minutes 2] [--rate 50] [--seed 1] [--faults all]
                                 [--outage-s 15] [--json figures.json]

Logs (workers, servers, this harness's library logging) go to the work
directory, printed at the start and kept when the run fails or with ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import (
    Dispatcher,
    DispatcherSettings,
    DispatchUnavailable,
    build_dispatcher,
)
from jobrelay.job_engine import SUCCESS_HOOK_STEP
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, Keys, QueueSettings, WorkerRegistry
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

BENCH_DIR = Path(__file__).resolve().parent
JOB_MODULE = "jobrelay_chaos_jobs"

if TYPE_CHECKING:
    # mypy sees bench/ as a namespace package; at run time bench/ is on sys.path
    # (it is the script's directory), as it is on the workers' PYTHONPATH.
    from bench import jobrelay_chaos_jobs as chaos_jobs
else:
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    import importlib

    chaos_jobs = importlib.import_module(JOB_MODULE)

WORKER_BIN = str(Path(sys.executable).parent / "jobrelay-worker")
QUEUE = "default"
# A Redis outage (--outage-s) at most this often. An outage in every round
# (about every minute) kept Redis down a quarter of the run: it measured how
# many jobs the file-backed dev server runs on its own, not the fallback
# between two engines.
OUTAGE_EVERY_S = 600.0
# Exit code of a run that kept every promise but drained an outage backlog
# slower than its target (a capacity figure of the machine, not a bug).
EXIT_DRAIN_MISSED = 2

FAULT_KINDS = (
    "worker_kill",
    "worker_freeze",
    "temporal_worker_kill",
    "redis_kill",
    "redis_outage",
    "temporal_restart",
    "client_kill",
)

# -- options ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    """Everything the run is told on its command line (see ``--help``)."""

    minutes: float
    rate: float
    seed: int
    faults: tuple[str, ...]
    outage_s: float
    heartbeat_ttl_s: float
    freeze_s: float
    temporal_down_s: float
    gap_min_s: float
    gap_max_s: float
    warmup_s: float
    stuck_after_s: float
    drain_s: float
    settle_s: float
    supervisors: int
    temporal_workers: int
    pickup_share: float
    fail_share: float
    sleep_s: float
    work_s: float
    max_in_flight: int
    json_path: Path | None
    workdir: Path | None
    keep: bool
    exit_with_parent: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Parse the command line; derived defaults (outage, freeze) follow the others."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--minutes", type=float, default=2.0, help="length of the fault period")
    add("--rate", type=float, default=50.0, help="jobs dispatched per second")
    add("--seed", type=int, default=1, help="seed of the fault injector and the job mix")
    add("--faults", default="all", help=f"comma list of fault kinds: {','.join(FAULT_KINDS)}")
    add(
        "--outage-s",
        type=float,
        default=None,
        help="length of the Redis outage, at most one per 10 minutes (default 60 s for"
        " runs of 10 min or more, else minutes*7.5)",
    )
    add(
        "--heartbeat-ttl-s",
        type=float,
        default=4.0,
        help="WORKER_HEARTBEAT_TTL_S of the chaos stack (default 4)",
    )
    add("--freeze-s", type=float, default=None, help="SIGSTOP length (default TTL + 3 s)")
    add("--temporal-down-s", type=float, default=3.0, help="Temporal server down time")
    add("--gap-min-s", type=float, default=2.0, help="shortest pause between faults")
    add("--gap-max-s", type=float, default=6.0, help="longest pause between faults")
    add("--warmup-s", type=float, default=5.0, help="stream without faults at the start")
    add("--stuck-after-s", type=float, default=60.0, help="a job unfinished this long is stuck")
    add("--drain-s", type=float, default=None, help="drain wait (default stuck-after + 30 s)")
    add("--settle-s", type=float, default=3.0, help="wait after the drain for late re-runs")
    add("--supervisors", type=int, default=2, help="jobrelay-worker run processes (>= 2)")
    add("--temporal-workers", type=int, default=2, help="jobrelay-worker temporal processes")
    add("--pickup-share", type=float, default=0.2, help="share of jobs with confirm=pickup")
    add("--fail-share", type=float, default=0.1, help="share whose s2 fails once")
    # Over 1 s on purpose: Dramatiq keeps a shorter sleep in the worker, a
    # longer one parks the job in Redis, which is the durable path under test.
    add("--sleep-s", type=float, default=1.2, help="the job's durable sleep")
    add("--work-s", type=float, default=0.01, help="how long each step works")
    add("--max-in-flight", type=int, default=1000, help="cap on concurrent dispatch calls")
    add("--json", dest="json_path", type=Path, default=None, help="write the figures here")
    add("--workdir", type=Path, default=None, help="logs and data (default: a temp dir)")
    add("--keep", action="store_true", help="keep the work directory even on success")
    add(
        "--exit-with-parent",
        action="store_true",
        help="stop everything when the parent process dies (for a test runner)",
    )
    ns = parser.parse_args(argv)

    faults = tuple(FAULT_KINDS if ns.faults in ("all", "") else ns.faults.split(","))
    unknown = sorted(set(faults) - set(FAULT_KINDS))
    if unknown:
        parser.error(f"unknown fault kinds {unknown}; expected {', '.join(FAULT_KINDS)}")
    if ns.supervisors < 2 or ns.temporal_workers < 1:
        parser.error("the chaos stack wants --supervisors >= 2 and --temporal-workers >= 1")
    if ns.rate <= 0 or ns.minutes <= 0:
        parser.error("--rate and --minutes must be positive")
    outage = ns.outage_s
    if outage is None:
        outage = 60.0 if ns.minutes >= 10 else max(5.0, ns.minutes * 7.5)
    return Options(
        minutes=ns.minutes,
        rate=ns.rate,
        seed=ns.seed,
        faults=faults,
        outage_s=outage,
        heartbeat_ttl_s=ns.heartbeat_ttl_s,
        freeze_s=ns.freeze_s if ns.freeze_s is not None else ns.heartbeat_ttl_s + 3.0,
        temporal_down_s=ns.temporal_down_s,
        gap_min_s=ns.gap_min_s,
        gap_max_s=max(ns.gap_min_s, ns.gap_max_s),
        warmup_s=ns.warmup_s,
        stuck_after_s=ns.stuck_after_s,
        drain_s=ns.drain_s if ns.drain_s is not None else ns.stuck_after_s + 30.0,
        settle_s=ns.settle_s,
        supervisors=ns.supervisors,
        temporal_workers=ns.temporal_workers,
        pickup_share=ns.pickup_share,
        fail_share=ns.fail_share,
        sleep_s=ns.sleep_s,
        work_s=ns.work_s,
        max_in_flight=ns.max_in_flight,
        json_path=ns.json_path,
        workdir=ns.workdir,
        keep=ns.keep,
        exit_with_parent=ns.exit_with_parent,
    )


# -- output -------------------------------------------------------------------

_T0 = time.time()


def say(message: str) -> None:
    """One line of the run's log on stdout, stamped with seconds since start."""
    print(f"[chaos {time.time() - _T0:7.1f}s] {message}", flush=True)


# -- processes ----------------------------------------------------------------


def child_pids(parent: int) -> list[int]:
    """Live (non-zombie) children of ``parent``, read from /proc: works with Redis down."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of its children it has reaped; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name.
    return sum(int(v) for v in fields[11:15]) / _TICKS


def signal_group(leader: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the process group ``leader`` started, and only ever ours.

    While the leader is our unreaped child its pid is the group's id. Once it
    is reaped, Linux still hands out no pid whose number is a live group's
    id, so a process now holding that number means our group is empty and the
    number belongs to someone else: then nothing is sent.
    """
    if leader.poll() is not None and Path(f"/proc/{leader.pid}").exists():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader.pid, sig)


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid``, None when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class WorkerProcess:
    """A ``jobrelay-worker`` process in a session (and process group) of its own.

    A supervisor's queue processes share its group, so the whole tree can be
    signalled (and is, on exit) by the group id, which is the leader's pid.
    """

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        # Set while a fault owns this process, so the watchdog leaves it alone.
        self.in_fault = False
        self.starts = 0
        # Every process this object started: a leader killed by a fault may
        # have left children behind in its group.
        self.started: list[subprocess.Popen[bytes]] = []

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [WORKER_BIN, *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.started.append(self.proc)

    def poll(self) -> int | None:
        """The exit code once the leader has exited, else None."""
        return None if self.proc is None else self.proc.poll()

    def children(self) -> list[int]:
        return child_pids(self.pid) if self.poll() is None else []

    def signal_group(self, sig: int) -> None:
        if self.proc is not None:
            signal_group(self.proc, sig)

    def terminate(self) -> None:
        """Ask for a graceful stop: SIGCONT (a frozen child must hear it), then SIGTERM."""
        self.signal_group(signal.SIGCONT)
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def reap(self, deadline: float) -> None:
        """Wait for the leader until ``deadline``, then SIGKILL every group it ever had."""
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(max(0.0, deadline - time.monotonic()))
        for leader in self.started:
            signal_group(leader, signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)


class Stack:
    """The servers and workers of one chaos run; :meth:`close` stops all of them by pid."""

    def __init__(self, opts: Options, workdir: Path, run_id: str) -> None:
        self.opts = opts
        self.workdir = workdir
        self.run_id = run_id
        self.prefix = f"{run_id}:"
        for sub in ("ledger", "redis", "status"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        self.ledger_server = RedisServer(data_dir=workdir / "ledger")
        self.redis = RedisServer(aof=True, data_dir=workdir / "redis")
        self.temporal = TemporalDevServer(db_file=workdir / "temporal.db")
        self.supervisors: list[WorkerProcess] = []
        self.temporal_workers: list[WorkerProcess] = []

    @property
    def workers(self) -> list[WorkerProcess]:
        return [*self.supervisors, *self.temporal_workers]

    def queue_settings(self) -> QueueSettings:
        return QueueSettings(
            redis_url=self.redis.url,
            prefix=self.prefix,
            heartbeat_ttl_s=self.opts.heartbeat_ttl_s,
        )

    def start_servers(self) -> None:
        self.ledger_server.start()
        say(f"ledger redis {self.ledger_server.url} pid {self.ledger_server.pid}")
        self.redis.start()
        say(f"redis {self.redis.url} pid {self.redis.pid} (AOF in {self.redis.data_dir})")
        self.temporal.start()
        say(f"temporal {self.temporal.address} pid {self.temporal.pid}")

    def worker_env(self, name: str) -> dict[str, str]:
        # The harness's own worker settings (and pytest's) must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "PYTEST_"))}
        status_dir = self.workdir / "status" / name
        env.update(
            REDIS_URL=self.redis.url,
            JOBRELAY_PREFIX=self.prefix,
            TEMPORAL_ADDRESS=self.temporal.address,
            JOBRELAY_JOB_MODULES=JOB_MODULE,
            PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")])),
            CHAOS_LEDGER_URL=self.ledger_server.url,
            WORKER_STATUS_DIR=str(status_dir),
            # Low enough that a SIGSTOP of a few seconds outlives it.
            WORKER_HEARTBEAT_TTL_S=str(self.opts.heartbeat_ttl_s),
            WORKER_HEARTBEAT_INTERVAL_S=str(max(0.5, self.opts.heartbeat_ttl_s / 4)),
            # A short grace keeps the final shutdown bounded.
            WORKER_GRACE_PERIOD_S="5",
            PYTHONUNBUFFERED="1",
        )
        for key in ("USE_DISPATCH_PROXY", "DISPATCH_PROXY_URL", "USE_DRAMATIQ"):
            env.pop(key, None)
        return env

    def start_workers(self) -> None:
        for i in range(self.opts.supervisors):
            name = f"run-{i}"
            proc = WorkerProcess(
                name, ["run", "--queue", QUEUE], self.worker_env(name), self.log(name)
            )
            proc.start()
            self.supervisors.append(proc)
            say(f"worker {name} (jobrelay-worker run) pid {proc.pid}")
        for i in range(self.opts.temporal_workers):
            name = f"temporal-{i}"
            proc = WorkerProcess(
                name, ["temporal", "--queue", QUEUE], self.worker_env(name), self.log(name)
            )
            proc.start()
            self.temporal_workers.append(proc)
            say(f"worker {name} (jobrelay-worker temporal) pid {proc.pid}")

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds of each server and worker alive now (a supervisor with its children)."""
        usage = {
            "redis": cpu_seconds(self.redis.pid) if self.redis.running() else 0.0,
            "ledger redis": cpu_seconds(self.ledger_server.pid),
            "temporal server": cpu_seconds(self.temporal.pid) if self.temporal.running() else 0.0,
        }
        for worker in self.workers:
            if worker.poll() is None:
                pids = [worker.pid, *worker.children()]
                usage[worker.name] = sum(cpu_seconds(pid) for pid in pids)
        return {name: round(value, 1) for name, value in usage.items()}

    def close(self) -> None:
        """Stop every worker and server by pid, whatever state they are in."""
        for proc in self.workers:
            proc.terminate()
        deadline = time.monotonic() + 15
        for proc in self.workers:
            proc.reap(deadline)
        for name, stop in (
            ("temporal", self.temporal.stop),
            ("redis", self.redis.stop),
            ("ledger redis", self.ledger_server.stop),
        ):
            try:
                stop()
            except Exception as exc:  # go on: the other servers must still stop
                say(f"stopping {name} failed: {exc!r}")
        shutil.rmtree(self.temporal.work_dir, ignore_errors=True)


# -- the stream ---------------------------------------------------------------


@dataclass(slots=True)
class Dispatched:
    """One dispatch call and what came of it."""

    job_id: str
    at: float
    confirm: str
    fail_once: bool
    outcome: str = "pending"  # accepted, refused or error
    engine: str = ""
    reason: str = ""
    took_s: float = 0.0
    cause: str = ""


def _short(cause: BaseException | str) -> str:
    """A refusal's cause, short enough to count alike causes together."""
    if isinstance(cause, str):
        return cause[:80]
    lines = str(cause).splitlines()
    return f"{type(cause).__name__}: {lines[0][:80] if lines else ''}"


class Stream:
    """Dispatches jobs at a steady rate; every call is accounted for."""

    def __init__(self, dispatcher: Dispatcher, opts: Options, run_id: str) -> None:
        self.dispatcher = dispatcher
        self.opts = opts
        self.run_id = run_id
        # Its own generator: the job mix does not depend on the faults' timing.
        self.rng = random.Random(opts.seed * 7919 + 1)
        self.jobs: dict[str, Dispatched] = {}
        self.errors: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        self.saturated = 0

    def count(self, outcome: str) -> int:
        return sum(1 for d in self.jobs.values() if d.outcome == outcome)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        n = 0
        while not stop.is_set():
            due = started + n / self.opts.rate
            delay = due - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                continue
            if len(self.tasks) >= self.opts.max_in_flight:
                # Dispatch calls are piling up: hold the stream rather than
                # grow without bound (counted, so it shows in the figures).
                self.saturated += 1
                await asyncio.sleep(0.05)
                continue
            n += 1
            # Drawn here, in dispatch order, so a seed always gives the same mix.
            confirm = "pickup" if self.rng.random() < self.opts.pickup_share else "admission"
            fail_once = self.rng.random() < self.opts.fail_share
            task = asyncio.create_task(self._one(f"{self.run_id}-{n}", confirm, fail_once))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def finish(self, timeout_s: float) -> int:
        """Wait for the calls still running; returns how many had to be cancelled."""
        pending = set(self.tasks)
        if not pending:
            return 0
        _, left = await asyncio.wait(pending, timeout=timeout_s)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        return len(left)

    async def _one(self, job_id: str, confirm: str, fail_once: bool) -> None:
        record = Dispatched(job_id=job_id, at=time.time(), confirm=confirm, fail_once=fail_once)
        self.jobs[job_id] = record
        payload = chaos_jobs.ChaosIn(
            sleep_s=self.opts.sleep_s, work_s=self.opts.work_s, fail_once=fail_once
        )
        started = time.perf_counter()
        try:
            # A bound of our own: a call that never returns would otherwise hide.
            receipt = await asyncio.wait_for(
                self.dispatcher.dispatch(
                    chaos_jobs.JOB_NAME,
                    payload,
                    job_id=job_id,
                    confirm="pickup" if confirm == "pickup" else "admission",
                ),
                timeout=60,
            )
        except DispatchUnavailable as exc:
            record.outcome, record.reason = "refused", exc.reason
            record.cause = f"{exc.reason}, Temporal: {_short(exc.temporal_cause)}"
        except asyncio.CancelledError:
            record.outcome, record.reason = "error", "CancelledError"
            self._error("CancelledError", "dispatch still running when the stream ended")
            raise
        except Exception as exc:
            record.outcome, record.reason = "error", type(exc).__name__
            self._error(type(exc).__name__, repr(exc))
        else:
            record.outcome, record.engine = "accepted", receipt.engine
            record.reason = receipt.reason.value
        finally:
            record.took_s = time.perf_counter() - started

    def _error(self, kind: str, detail: str) -> None:
        if not self.errors[kind]:
            say(f"dispatch error {kind}: {detail}")
        self.errors[kind] += 1


# -- faults -------------------------------------------------------------------


@dataclass(slots=True)
class Fault:
    """One injected fault: what, when (seconds since the stream began), to whom."""

    kind: str
    started: float
    ended: float = 0.0
    target: str = ""


class Injector:
    """Seeded faults, one at a time: each is undone before the next begins."""

    def __init__(self, stack: Stack, opts: Options, t0: float) -> None:
        self.stack = stack
        self.opts = opts
        self.t0 = t0
        self.rng = random.Random(opts.seed)
        self.log: list[Fault] = []
        # (down, up) wall-clock times of Redis outages, for the backlog figure.
        self.outages: list[tuple[float, float]] = []
        self._last_outage: float | None = None
        self.last_end = t0

    def rel(self, at: float | None = None) -> float:
        return round((time.time() if at is None else at) - self.t0, 2)

    async def run(self, until: float) -> None:
        """Inject faults until wall-clock ``until``; a fault begun before it is finished."""
        await self._pause(self.opts.warmup_s, until)
        while time.time() < until:
            # Each round runs every kind once, in a random order: every kind
            # shows up early and the mix stays even.
            for kind in self.rng.sample(self.opts.faults, len(self.opts.faults)):
                if time.time() >= until:
                    return
                if kind == "redis_outage" and not self._outage_due():
                    continue
                await self.inject(kind)
                await self._pause(self.rng.uniform(self.opts.gap_min_s, self.opts.gap_max_s), until)

    async def _pause(self, seconds: float, until: float) -> None:
        await asyncio.sleep(max(0.0, min(seconds, until - time.time())))

    async def inject(self, kind: str) -> None:
        fault = Fault(kind, self.rel())
        try:
            target = await getattr(self, f"_{kind}")(fault)
        except Exception as exc:
            target = f"failed: {exc!r}"
        fault.ended = self.rel()
        fault.target = target
        self.log.append(fault)
        self.last_end = time.time()
        say(f"fault {kind} at +{fault.started:.1f}s..+{fault.ended:.1f}s: {target}")

    def _pick_queue_process(self) -> tuple[WorkerProcess, int] | None:
        sups = [s for s in self.stack.supervisors if s.children()]
        if not sups:
            return None
        sup = self.rng.choice(sups)
        return sup, self.rng.choice(sup.children())

    @staticmethod
    def _signal_child(sup: WorkerProcess, pid: int, sig: int) -> None:
        # Only while it still is that supervisor's child: never a recycled pid.
        if parent_of(pid) == sup.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    async def _worker_kill(self, fault: Fault) -> str:
        picked = self._pick_queue_process()
        if picked is None:
            return "skipped: no queue process alive"
        sup, pid = picked
        self._signal_child(sup, pid, signal.SIGKILL)
        return f"SIGKILL queue process pid {pid} of {sup.name} (supervisor pid {sup.pid})"

    async def _worker_freeze(self, fault: Fault) -> str:
        picked = self._pick_queue_process()
        if picked is None:
            return "skipped: no queue process alive"
        sup, pid = picked
        self._signal_child(sup, pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.opts.freeze_s)
        finally:
            self._signal_child(sup, pid, signal.SIGCONT)
        return f"SIGSTOP {self.opts.freeze_s:g}s, SIGCONT: queue process pid {pid} of {sup.name}"

    async def _temporal_worker_kill(self, fault: Fault) -> str:
        alive = [w for w in self.stack.temporal_workers if w.poll() is None]
        if not alive:
            return "skipped: no Temporal worker alive"
        worker = self.rng.choice(alive)
        worker.in_fault = True
        try:
            old = worker.pid
            worker.signal_group(signal.SIGKILL)
            await asyncio.to_thread(_wait_exit, worker, 10)
            # A moment down, as a crashed pod is before it is rescheduled.
            await asyncio.sleep(1.0)
            worker.start()
        finally:
            worker.in_fault = False
        return f"SIGKILL {worker.name} pid {old}; restarted as pid {worker.pid}"

    async def _redis_kill(self, fault: Fault) -> str:
        old = self.stack.redis.pid
        await asyncio.to_thread(self.stack.redis.kill)
        await asyncio.to_thread(_restart, self.stack.redis, 30)
        return f"SIGKILL redis pid {old}; restarted on its AOF as pid {self.stack.redis.pid}"

    async def _redis_outage(self, fault: Fault) -> str:
        old = self.stack.redis.pid
        self._last_outage = time.time()
        await asyncio.to_thread(self.stack.redis.stop)
        down = time.time()
        try:
            await asyncio.sleep(self.opts.outage_s)
        finally:
            await asyncio.to_thread(_restart, self.stack.redis, 30)
            self.outages.append((down, time.time()))
        back = self.stack.redis.pid
        return f"redis pid {old} stopped for {self.opts.outage_s:g}s; back as pid {back}"

    def _outage_due(self) -> bool:
        """Whether a Redis outage may begin: none yet, or the last one ``OUTAGE_EVERY_S`` ago."""
        return self._last_outage is None or time.time() - self._last_outage >= OUTAGE_EVERY_S

    async def _temporal_restart(self, fault: Fault) -> str:
        old = self.stack.temporal.pid
        await asyncio.to_thread(self.stack.temporal.stop)
        try:
            await asyncio.sleep(self.opts.temporal_down_s)
        finally:
            await asyncio.to_thread(_restart, self.stack.temporal, 60)
        return (
            f"temporal server pid {old} stopped for {self.opts.temporal_down_s:g}s; "
            f"back as pid {self.stack.temporal.pid}"
        )

    async def _client_kill(self, fault: Fault) -> str:
        return await asyncio.to_thread(_client_kill, self.stack.redis.url)


def _restart(server: RedisServer | TemporalDevServer, timeout_s: float) -> None:
    """Start a server again; a few tries, since a port may take a moment to free."""
    for attempt in range(3):
        try:
            server.start(timeout_s)
            return
        except (RuntimeError, TimeoutError) as exc:
            say(f"restart attempt {attempt + 1} failed: {exc}")
            # A server that started but never listened must not linger.
            server.kill()
            time.sleep(1.0)
    server.start(timeout_s)


def _wait_exit(worker: WorkerProcess, timeout_s: float) -> None:
    if worker.proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.proc.wait(timeout_s)


def _client_kill(url: str) -> str:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        normal = client.client_kill_filter(_type="normal", skipme=True)
        pubsub = client.client_kill_filter(_type="pubsub", skipme=True)
    finally:
        client.close()
    return f"CLIENT KILL: {normal} normal and {pubsub} pubsub connections"


@dataclass(slots=True)
class Exit:
    """A worker process that exited without a fault asking it to."""

    worker: str
    pid: int
    code: int
    at: float


async def watchdog(stack: Stack, stop: asyncio.Event, t0: float, exits: list[Exit]) -> None:
    """Restart any worker process that exited on its own (and note it: it may be a bug)."""
    while not stop.is_set():
        for worker in stack.workers:
            if worker.in_fault:
                continue
            code = worker.poll()
            if code is None:
                continue
            exits.append(Exit(worker.name, worker.pid, code, round(time.time() - t0, 2)))
            say(f"{worker.name} pid {worker.pid} exited with {code} on its own; restarting it")
            worker.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


# -- readiness ----------------------------------------------------------------


async def wait_ready(stack: Stack, timeout_s: float) -> None:
    """Until every supervisor's queue process and every Temporal worker heartbeats."""
    registry = WorkerRegistry.from_settings(
        redis.Redis.from_url(stack.redis.url, socket_timeout=2), stack.queue_settings()
    )
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(Exception):
            live = registry.live_workers(QUEUE)
            dramatiq = {w.worker_id for w in live if w.engine == ENGINE_DRAMATIQ}
            temporal = {w.pid for w in live if w.engine == ENGINE_TEMPORAL}
            sups_ok = all(any(f":{s.pid}:" in w for w in dramatiq) for s in stack.supervisors)
            temps_ok = all(t.pid in temporal for t in stack.temporal_workers)
            if sups_ok and temps_ok:
                return
        for worker in stack.workers:
            if worker.poll() is not None:
                raise RuntimeError(f"{worker.name} exited at start; see {stack.log(worker.name)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers not live after {timeout_s}s; logs in {stack.workdir}")
        await asyncio.sleep(0.25)


# -- the ledger's verdict ----------------------------------------------------


@dataclass(slots=True)
class StepVerdict:
    """What one job's events say about its steps."""

    began: bool = False
    hook_runs: int = 0
    finished_reruns: int = 0
    interrupted_reruns: int = 0
    planned_retries: int = 0


def classify(events: Sequence[str]) -> StepVerdict:
    """Judge one job's ``kind|step|pid|time`` events, in ledger order.

    A step beginning again after a later step began (or the success hook
    ran) is a finished step run again: its result had been used. One
    beginning again before anything later began is an interrupted step run
    again, whether or not it had ended (a process may die between a step's
    end and the save of its result). A step beginning again after its own
    planned failure is the retry the job asked for.
    """
    order = {name: i for i, name in enumerate(chaos_jobs.STEPS)}
    verdict = StepVerdict()
    last: dict[str, str] = {}
    furthest = -1
    hooked = False
    for raw in events:
        kind, step_id = raw.split("|", 2)[:2]
        if kind == "H":
            verdict.hook_runs += 1
            hooked = True
            continue
        index = order[step_id]
        if kind == "B":
            verdict.began = True
            if step_id in last:
                if hooked or furthest > index:
                    verdict.finished_reruns += 1
                elif last[step_id] == "F":
                    verdict.planned_retries += 1
                else:
                    verdict.interrupted_reruns += 1
            furthest = max(furthest, index)
        last[step_id] = kind
    return verdict


def classify_hooks(events: Sequence[str], kept: str | None) -> tuple[int, int]:
    """``(finished_twice, cut_reruns)`` from a job's events and its hook's kept result.

    ``kept`` is the token (``pid|time``) of the hook run whose result jobrelay
    saved, or None. A hook runs again only when the run before it had no
    saved result: it was cut (a kill, a freeze past its lease, Redis gone)
    between its side effect and that save, the at-least-once window of any
    step, counted apart like the interrupted steps. So when the saved result
    is the last run's, every earlier run was cut. Anything else (no saved
    result, or an earlier run's although a later one ran) counts every run
    after the first as a finish twice: nothing else explains it.
    """
    runs = [raw.split("|", 2)[2] for raw in events if raw.startswith("H|")]
    if len(runs) < 2:
        return 0, 0
    if kept is not None and kept == runs[-1]:
        return 0, len(runs) - 1
    return len(runs) - 1, 0


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


@dataclass
class Figures:
    """The figures of one run (what the table shows and ``--json`` writes)."""

    seed: int
    minutes: float
    rate: float
    faults_enabled: list[str]
    outage_s: float
    dispatched: int = 0
    accepted: int = 0
    refused: int = 0
    errors: int = 0
    accepted_by: dict[str, int] = field(default_factory=dict)
    errors_by_type: dict[str, int] = field(default_factory=dict)
    refused_by: dict[str, int] = field(default_factory=dict)
    succeeded: int = 0
    lost: int = 0
    dead: int = 0
    lost_idle: int = 0
    finished_twice: int = 0
    hooks_cut_rerun: int = 0
    finished_steps_rerun: int = 0
    interrupted_steps_rerun: int = 0
    planned_retries: int = 0
    stuck: int = 0
    stuck_after_last_fault: int = 0
    stuck_outage_backlog: int = 0
    outage_backlog: int = 0
    outage_drain_s: float | None = None
    outage_undrained: int = 0
    refused_but_ran: int = 0
    by_engine: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    latency_max_s: float | None = None
    dispatch_p99_ms: float | None = None
    faults: dict[str, int] = field(default_factory=dict)
    fault_log: list[dict[str, Any]] = field(default_factory=list)
    unexpected_exits: list[dict[str, Any]] = field(default_factory=list)
    stream_saturated: int = 0
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    harness_cpu_s: float = 0.0
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    stack_cpu_s: float = 0.0
    fault_period_s: float = 0.0
    drain_wait_s: float = 0.0
    wall_s: float = 0.0

    @property
    def promises_kept(self) -> bool:
        """Nothing lost, finished twice, re-run after it finished, or stuck after the faults."""
        return not (self.lost or self.finished_twice or self.finished_steps_rerun or self.stuck)

    @property
    def drain_met(self) -> bool:
        """Every outage's backlog finished within ``--stuck-after-s`` of Redis coming back.

        A capacity target, apart from the promises: how fast Temporal alone
        works off a backlog depends on the machine, a broken promise never does.
        """
        return not self.stuck_outage_backlog

    @property
    def ok(self) -> bool:
        return self.promises_kept and self.drain_met

    @property
    def verdict(self) -> str:
        if self.ok:
            return "OK"
        if self.promises_kept:
            return "promises kept; outage drain target MISSED"
        return "FAILED"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(values: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in values.items()}


def _per_job(
    client: redis.Redis, job_ids: Sequence[str], queue: Callable[[Any, str], object]
) -> dict[str, Any]:
    """One reply per job id: ``queue(pipe, job_id)`` queues its command, 500 per round trip."""
    replies: dict[str, Any] = {}
    for start in range(0, len(job_ids), 500):
        chunk = job_ids[start : start + 500]
        pipe = client.pipeline(transaction=False)
        for job_id in chunk:
            queue(pipe, job_id)
        replies.update(zip(chunk, pipe.execute(), strict=True))
    return replies


def kept_hooks(client: redis.Redis, keys: Keys, job_ids: Sequence[str]) -> dict[str, str | None]:
    """The success hook's saved result (its run token) of each of ``job_ids``."""
    raw = _per_job(
        client, job_ids, lambda pipe, job_id: pipe.hget(keys.steps(job_id), SUCCESS_HOOK_STEP)
    )
    return {k: None if v is None else json.loads(_text(v)) for k, v in raw.items()}


def judge(
    ledger: redis.Redis,
    stream: Stream,
    injector: Injector,
    opts: Options,
    run_id: str,
    jobs_redis: redis.Redis,
    keys: Keys,
) -> Figures:
    """Read the ledger and turn it, with the dispatch accounting, into the figures.

    ``jobs_redis`` and ``keys`` reach jobrelay's own records, for the saved
    result of each success hook that ran more than once (see :func:`classify_hooks`).
    """
    figures = Figures(
        seed=opts.seed,
        minutes=opts.minutes,
        rate=opts.rate,
        faults_enabled=list(opts.faults),
        outage_s=opts.outage_s,
    )
    jobs = stream.jobs
    figures.dispatched = len(jobs)
    figures.accepted = stream.count("accepted")
    figures.refused = stream.count("refused")
    figures.errors = stream.count("error")
    figures.accepted_by = dict(
        sorted(
            Counter(
                f"{d.engine}/{d.reason}" for d in jobs.values() if d.outcome == "accepted"
            ).items()
        )
    )
    figures.errors_by_type = dict(stream.errors)
    figures.refused_by = dict(
        Counter(d.cause for d in jobs.values() if d.outcome == "refused").most_common(5)
    )
    figures.stream_saturated = stream.saturated
    ok_runs = {k: int(v) for k, v in _decode(ledger.hgetall(chaos_jobs.ok_key(run_id))).items()}
    fin = {k: float(v) for k, v in _decode(ledger.hgetall(chaos_jobs.fin_key(run_id))).items()}
    dead = _decode(ledger.hgetall(chaos_jobs.dead_key(run_id)))

    raw_events = _per_job(
        ledger, list(jobs), lambda pipe, job_id: pipe.lrange(chaos_jobs.events_key(job_id), 0, -1)
    )
    events = {k: [_text(item) for item in v] for k, v in raw_events.items()}
    kept_hook = kept_hooks(jobs_redis, keys, [k for k, n in ok_runs.items() if n > 1])

    last_fault = injector.last_end
    examples: dict[str, list[dict[str, Any]]] = {}

    def example(kind: str, d: Dispatched) -> None:
        shown = examples.setdefault(kind, [])
        if len(shown) < 5:
            shown.append({**asdict(d), "events": events.get(d.job_id, [])})

    latencies: list[float] = []
    by_engine: dict[str, list[float | None]] = {}
    for d in jobs.values():
        verdict = classify(events.get(d.job_id, []))
        figures.planned_retries += verdict.planned_retries
        figures.interrupted_steps_rerun += verdict.interrupted_reruns
        if verdict.finished_reruns:
            figures.finished_steps_rerun += verdict.finished_reruns
            example("finished_step_rerun", d)
        if d.outcome == "refused" and verdict.began:
            figures.refused_but_ran += 1
            example("refused_but_ran", d)
        if ok_runs.get(d.job_id, 0) > 1:
            twice, cut = classify_hooks(events.get(d.job_id, []), kept_hook.get(d.job_id))
            figures.hooks_cut_rerun += cut
            if twice:
                figures.finished_twice += 1
                example("finished_twice", d)
            else:
                example("hook_cut_rerun", d)
        if d.outcome != "accepted":
            continue
        done_at = fin.get(d.job_id)
        by_engine.setdefault(d.engine, []).append(None if done_at is None else done_at - d.at)
        if done_at is None:
            figures.lost += 1
            if d.job_id in dead:
                figures.dead += 1
            # Whether it was still moving near the end. A hint only: a Temporal
            # workflow waiting in a long task queue shows no step either.
            last = max((float(e.rsplit("|", 1)[1]) for e in events.get(d.job_id, [])), default=0.0)
            if time.time() - last > 30:
                figures.lost_idle += 1
            example("lost", d)
        else:
            figures.succeeded += 1
            latencies.append(done_at - d.at)
        # Stuck: unfinished long after the faults stopped...
        if done_at is None or done_at > max(d.at, last_fault) + opts.stuck_after_s:
            figures.stuck_after_last_fault += 1
            figures.stuck += 1
            example("stuck", d)
            continue
        # Apart from stuck: part of a Redis outage's backlog still unfinished
        # long after Redis came back (the drain target, see Figures.drain_met).
        for down, up in injector.outages:
            if down <= d.at <= up and done_at > up + opts.stuck_after_s:
                figures.stuck_outage_backlog += 1
                example("slow_drain", d)
                break

    for down, up in injector.outages:
        backlog = [d for d in jobs.values() if d.outcome == "accepted" and down <= d.at <= up]
        figures.outage_backlog += len(backlog)
        finishes = [fin[d.job_id] for d in backlog if d.job_id in fin]
        if backlog and len(finishes) == len(backlog):
            drained = round(max(0.0, max(finishes) - up), 1)
            figures.outage_drain_s = max(figures.outage_drain_s or 0.0, drained)
        elif backlog:
            figures.outage_undrained += len(backlog) - len(finishes)

    for engine, values in sorted(by_engine.items()):
        done = [v for v in values if v is not None]
        figures.by_engine[engine] = {
            "accepted": len(values),
            "succeeded": len(done),
            "lost": len(values) - len(done),
            "latency_p50_s": _pct(done, 0.50),
            "latency_p99_s": _pct(done, 0.99),
        }
    figures.timeline = _timeline(jobs, fin, injector.t0)
    figures.latency_p50_s = _pct(latencies, 0.50)
    figures.latency_p99_s = _pct(latencies, 0.99)
    figures.latency_max_s = round(max(latencies), 3) if latencies else None
    took = [d.took_s * 1000 for d in jobs.values() if d.outcome != "pending"]
    figures.dispatch_p99_ms = _pct(took, 0.99)
    counts = Counter(f.kind for f in injector.log if not f.target.startswith(("skipped", "failed")))
    figures.faults = {kind: counts.get(kind, 0) for kind in opts.faults}
    figures.fault_log = [asdict(f) for f in injector.log]
    figures.examples = examples
    return figures


def _timeline(
    jobs: dict[str, Dispatched], fin: dict[str, float], t0: float, bucket_s: float = 5.0
) -> list[dict[str, Any]]:
    """Per ``bucket_s`` since the stream began: dispatch outcomes, call times, finishes."""
    buckets: dict[int, dict[str, Any]] = {}

    def at(when: float) -> dict[str, Any]:
        index = int((when - t0) // bucket_s)
        return buckets.setdefault(
            index,
            {"t": index * bucket_s, "dramatiq": 0, "temporal": 0, "refused": 0, "errors": 0,
             "call_max_s": 0.0, "finished": 0},
        )  # fmt: skip

    for d in jobs.values():
        row = at(d.at)
        if d.outcome == "accepted":
            row[d.engine] += 1
        elif d.outcome == "refused":
            row["refused"] += 1
        else:
            row["errors"] += 1
        row["call_max_s"] = round(max(row["call_max_s"], d.took_s), 2)
    for done_at in fin.values():
        at(done_at)["finished"] += 1
    return [buckets[i] for i in sorted(buckets)]


def table(figures: Figures) -> str:
    """The one table the run prints."""

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f} s"

    engines = ", ".join(f"{k} {v}" for k, v in figures.accepted_by.items()) or "-"
    errors = ", ".join(f"{k} {v}" for k, v in figures.errors_by_type.items())
    rows: list[tuple[str, str]] = [
        ("dispatched", str(figures.dispatched)),
        ("accepted", f"{figures.accepted} ({engines})"),
        ("refused (DispatchUnavailable)", str(figures.refused)),
        ("errors", f"{figures.errors}" + (f" ({errors})" if errors else "")),
        ("succeeded", str(figures.succeeded)),
        (
            "LOST (accepted, never finished)",
            f"{figures.lost} ({figures.lost_idle} with no step for 30 s; "
            f"failure hook ran: {figures.dead})",
        ),
        ("FINISHED MORE THAN ONCE", str(figures.finished_twice)),
        ("success hooks cut before their save, run again", str(figures.hooks_cut_rerun)),
        ("FINISHED STEPS RUN AGAIN", str(figures.finished_steps_rerun)),
        ("interrupted steps run again", str(figures.interrupted_steps_rerun)),
        ("planned retries (s2 first attempt)", str(figures.planned_retries)),
        ("STUCK (unfinished --stuck-after-s after the last fault)", str(figures.stuck)),
        (
            "outage backlog unfinished --stuck-after-s after Redis back",
            str(figures.stuck_outage_backlog),
        ),
        ("refused but ran anyway", str(figures.refused_but_ran)),
        (
            "outage backlog drained after",
            f"{secs(figures.outage_drain_s)} ({figures.outage_backlog} jobs, "
            f"{figures.outage_undrained} never finished)",
        ),
        (
            "dispatch->finish p50 / p99 / max",
            f"{secs(figures.latency_p50_s)} / "
            f"{secs(figures.latency_p99_s)} / {secs(figures.latency_max_s)}",
        ),
        (
            "dispatch call p99",
            "-" if figures.dispatch_p99_ms is None else f"{figures.dispatch_p99_ms:.1f} ms",
        ),
    ]
    rows += [
        (
            f"  accepted by {engine}: succeeded / lost / p50 / p99",
            f"{e['succeeded']} / {e['lost']} / {secs(e['latency_p50_s'])} / "
            f"{secs(e['latency_p99_s'])}",
        )
        for engine, e in figures.by_engine.items()
    ]
    rows += [("  refused because", f"{n}x {cause}") for cause, n in figures.refused_by.items()]
    rows += [(f"fault {kind}", str(n)) for kind, n in figures.faults.items()]
    rows += [
        ("worker exits not caused by a fault", str(len(figures.unexpected_exits))),
        ("stream held back (in-flight cap)", str(figures.stream_saturated)),
        (
            "CPU: harness / servers and workers",
            f"{figures.harness_cpu_s:.0f} s / {figures.stack_cpu_s:.0f} s ("
            + ", ".join(f"{k} {v:.0f}" for k, v in figures.cpu_by_process.items())
            + ")",
        ),
        (
            "fault period / drain wait / wall",
            f"{figures.fault_period_s:.0f} s / "
            f"{figures.drain_wait_s:.0f} s / {figures.wall_s:.0f} s",
        ),
        ("verdict", figures.verdict),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'figure':<{width}} | value", f"|{'-' * (width + 2)}|------"]
    lines += [f"| {name:<{width}} | {value}" for name, value in rows]
    return "\n".join(lines)


# -- the run ------------------------------------------------------------------


async def drain(ledger: redis.Redis, stream: Stream, run_id: str, deadline: float) -> None:
    """Wait until every accepted job finished, or until wall-clock ``deadline``."""
    accepted = {d.job_id for d in stream.jobs.values() if d.outcome == "accepted"}
    shown = 0.0
    while True:
        finished = {_text(k) for k in ledger.hkeys(chaos_jobs.fin_key(run_id))}
        left = len(accepted - finished)
        if not left:
            say(f"drained: all {len(accepted)} accepted jobs finished")
            return
        if time.time() >= deadline:
            say(f"drain wait over with {left} accepted jobs unfinished")
            return
        if time.monotonic() - shown >= 10:
            say(f"draining: {left} of {len(accepted)} accepted jobs unfinished")
            shown = time.monotonic()
        await asyncio.sleep(1.0)


async def chaos(opts: Options, stack: Stack) -> Figures:
    """Start the stack, run stream and faults, drain, and judge."""
    started = time.time()
    await asyncio.to_thread(stack.start_servers)
    stack.start_workers()
    await wait_ready(stack, 90)
    say("all workers live")

    built = build_dispatcher(
        DispatcherSettings(
            temporal_address=stack.temporal.address,
            use_dramatiq=True,
            use_dispatch_proxy=False,
            dispatch_proxy_url=None,
        ),
        stack.queue_settings(),
        discover=False,
    )
    assert isinstance(built, Dispatcher)
    ledger = redis.Redis.from_url(stack.ledger_server.url, socket_timeout=30)

    t0 = time.time()
    stream = Stream(built, opts, stack.run_id)
    injector = Injector(stack, opts, t0)
    exits: list[Exit] = []
    stop_stream = asyncio.Event()
    stop_watchdog = asyncio.Event()
    say(
        f"stream at {opts.rate:g}/s for {opts.minutes:g} min, seed {opts.seed}, "
        f"faults {','.join(opts.faults)} (outage {opts.outage_s:g}s)"
    )
    stream_task = asyncio.create_task(stream.run(stop_stream))
    watch_task = asyncio.create_task(watchdog(stack, stop_watchdog, t0, exits))
    progress_task = asyncio.create_task(_progress(stream, ledger, stack.run_id))
    try:
        await injector.run(until=t0 + opts.minutes * 60)
        stop_stream.set()
        await stream_task
        fault_period = time.time() - t0
        cancelled = await stream.finish(40)
        say(
            f"stream stopped: {len(stream.jobs)} dispatched, {stream.count('accepted')} accepted,"
            f" {stream.count('refused')} refused, {stream.count('error')} errors"
            + (f" ({cancelled} calls cancelled)" if cancelled else "")
        )
        drain_from = time.time()
        await drain(ledger, stream, stack.run_id, max(drain_from, injector.last_end) + opts.drain_s)
        drain_wait = time.time() - drain_from
        # Late duplicates (a thawed worker, a redelivery) show up after the finish.
        await asyncio.sleep(opts.settle_s)
    finally:
        stop_stream.set()
        stop_watchdog.set()
        progress_task.cancel()
        for task in (stream_task, watch_task, progress_task):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, timeout=10)
    with redis.Redis.from_url(stack.redis.url, socket_timeout=30) as jobs_redis:
        figures = judge(
            ledger, stream, injector, opts, stack.run_id, jobs_redis, Keys(stack.prefix)
        )
    figures.cpu_by_process = stack.cpu_by_process()
    figures.unexpected_exits = [asdict(e) for e in exits]
    figures.fault_period_s = round(fault_period, 1)
    figures.drain_wait_s = round(drain_wait, 1)
    figures.wall_s = round(time.time() - started, 1)
    return figures


async def _progress(stream: Stream, ledger: redis.Redis, run_id: str) -> None:
    while True:
        await asyncio.sleep(15)
        with contextlib.suppress(redis.RedisError):
            finished = ledger.hlen(chaos_jobs.fin_key(run_id))
            say(
                f"progress: {len(stream.jobs)} dispatched, {stream.count('accepted')} accepted,"
                f" {stream.count('refused')} refused, {stream.count('error')} errors,"
                f" {finished} finished, {len(stream.tasks)} calls in flight"
            )


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _quiet_temporal_core() -> None:
    """Send the Temporal SDK core's own log lines (a warning per retried call while
    the server is down) to the harness log instead of the run's stdout."""
    telemetry = TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
        )
    )
    Runtime.set_default(Runtime(telemetry=telemetry), error_if_already_set=False)


def _watch_parent() -> None:
    """SIGTERM ourselves (the Ctrl-C path: everything is stopped) once the parent is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM takes the Ctrl-C path, so the finally blocks stop every process.
    raise KeyboardInterrupt


@contextlib.contextmanager
def _workdir(opts: Options) -> Iterator[Path]:
    if opts.workdir is not None:
        opts.workdir.mkdir(parents=True, exist_ok=True)
        yield opts.workdir
        return
    yield Path(tempfile.mkdtemp(prefix="jobrelay-chaos-"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chaos run: 0 when every promise held and every outage backlog drained
    in time, ``EXIT_DRAIN_MISSED`` when only the drain was slow, 1 otherwise."""
    opts = parse_options(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    if opts.exit_with_parent:
        _watch_parent()
    run_id = f"chaos{uuid.uuid4().hex[:8]}"
    with _workdir(opts) as workdir:
        logging.basicConfig(
            level=logging.INFO,
            filename=str(workdir / "harness.log"),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        _quiet_temporal_core()
        say(f"run {run_id}, work directory {workdir}")
        stack = Stack(opts, workdir, run_id)
        figures: Figures | None = None
        try:
            figures = asyncio.run(chaos(opts, stack))
        except KeyboardInterrupt:
            say("interrupted: stopping everything")
            return 130
        finally:
            stack.close()
            say("stack stopped")
            keep = opts.keep or opts.workdir is not None or figures is None or not figures.ok
            if keep:
                say(f"logs kept in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        # CPU of this process, and of every server and worker it started (all reaped now).
        figures.harness_cpu_s = round(_cpu(resource.RUSAGE_SELF), 1)
        figures.stack_cpu_s = round(_cpu(resource.RUSAGE_CHILDREN), 1)
        print(table(figures), flush=True)
        for kind, shown in figures.examples.items():
            if kind in ("lost", "stuck", "finished_twice", "finished_step_rerun", "slow_drain"):
                for item in shown[:3]:
                    say(f"example {kind}: {json.dumps(item)}")
        if opts.json_path is not None:
            opts.json_path.write_text(json.dumps(asdict(figures), indent=2, default=str))
            say(f"figures written to {opts.json_path}")
        if figures.ok:
            return 0
        return EXIT_DRAIN_MISSED if figures.promises_kept else 1


if __name__ == "__main__":
    sys.exit(main())
