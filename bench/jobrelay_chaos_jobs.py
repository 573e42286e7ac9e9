"""The job of the chaos run (``bench/chaos.py``) and the ledger it writes.

Worker processes import this module through ``JOBRELAY_JOB_MODULES=jobrelay_chaos_jobs``
with ``bench/`` on ``PYTHONPATH``, the way an application adds its own jobs.
Every side effect goes to a separate "ledger" Redis (``CHAOS_LEDGER_URL``)
that the chaos run never faults, so afterwards the harness can tell which
step ran in which process, when, and how often.

A job id is ``<run>-<n>``; the run id is the prefix of the ledger keys:

- ``<run>:ev:<job_id>``: list of events ``kind|step|pid|time``, in the order the
  ledger received them: ``B`` a step began, ``E`` it ended, ``F`` it failed on
  purpose, ``H`` the success hook ran.
- ``<run>:tries:<job_id>:<step>``: attempts of a step that fails once on purpose.
- ``<run>:ok``: hash job id -> times the success hook ran (the hook returns its
  ``pid|time`` token, which jobrelay keeps as the hook step's result).
- ``<run>:fin``: hash job id -> when the success hook first ran.
- ``<run>:dead``: hash job id -> the error the failure hook was given.

The job body does nothing but ``ctx.run`` and ``ctx.sleep`` (it also runs in
Temporal's workflow sandbox); all I/O is in the module-level step functions.
"""

from __future__ import annotations

import os
import time
from functools import cache

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel

JOB_NAME = "chaos.three_steps"
LEDGER_ENV = "CHAOS_LEDGER_URL"
STEPS = ("s1", "s2", "s3")
# The success hook's place in a job's event list: after every step.
HOOK = "hook"


class PlannedFailure(RuntimeError):
    """Raised by a step on its first attempt when the job asked for it."""


class ChaosIn(BaseModel):
    """What one chaos job does: how long it sleeps, how long a step works, whether
    its second step fails on its first attempt."""

    sleep_s: float = 1.2
    work_s: float = 0.01
    fail_once: bool = False


def run_of(job_id: str) -> str:
    """The run id (ledger key prefix) of a chaos job id ``<run>-<n>``."""
    return job_id.rsplit("-", 1)[0]


def events_key(job_id: str) -> str:
    """The ledger list holding ``job_id``'s step events."""
    return f"{run_of(job_id)}:ev:{job_id}"


def tries_key(job_id: str, step_id: str) -> str:
    """The ledger counter of attempts of ``step_id`` when it fails once on purpose."""
    return f"{run_of(job_id)}:tries:{job_id}:{step_id}"


def ok_key(run: str) -> str:
    """The ledger hash of success-hook runs per job."""
    return f"{run}:ok"


def fin_key(run: str) -> str:
    """The ledger hash of each job's first finish time."""
    return f"{run}:fin"


def dead_key(run: str) -> str:
    """The ledger hash of jobs whose failure hook ran."""
    return f"{run}:dead"


@cache
def ledger() -> redis.Redis:
    """The ledger Redis; created on first use, never at import (the sandbox imports us)."""
    # Generous timeouts: the ledger is never faulted, and a lost event would
    # show up as a false violation.
    return redis.Redis.from_url(
        os.environ[LEDGER_ENV], socket_timeout=10, socket_connect_timeout=10
    )


def _event(client: redis.Redis, job_id: str, kind: str, step_id: str) -> None:
    client.rpush(events_key(job_id), f"{kind}|{step_id}|{os.getpid()}|{time.time():.6f}")


def step(job_id: str, step_id: str, fail_once: bool, work_s: float) -> str:
    """One step: note its beginning, work a little, note its end.

    With ``fail_once`` the first attempt (counted on the ledger, so it holds
    across processes and engines) raises instead of ending.
    """
    client = ledger()
    _event(client, job_id, "B", step_id)
    if fail_once and int(client.incr(tries_key(job_id, step_id))) == 1:
        _event(client, job_id, "F", step_id)
        raise PlannedFailure(f"{step_id} of {job_id} fails on its first attempt")
    # A step that takes a moment can be cut by a kill, which is the point.
    time.sleep(work_s)
    _event(client, job_id, "E", step_id)
    return f"{step_id}@{os.getpid()}"


def record_success(job_id: str, result: str) -> str:
    """The success hook: count the finish and note when it first happened.

    Returns this run's token, ``pid|time`` as in its ``H`` event. jobrelay
    keeps it as the hook step's result, so the harness can tell a hook cut
    before its result was saved (run again, like any interrupted step) from
    one run again after its result was saved (finished twice).
    """
    client = ledger()
    run = run_of(job_id)
    token = f"{os.getpid()}|{time.time():.6f}"
    pipe = client.pipeline(transaction=True)
    pipe.hincrby(ok_key(run), job_id, 1)
    pipe.hsetnx(fin_key(run), job_id, token.split("|")[1])
    pipe.rpush(events_key(job_id), f"H|{HOOK}|{token}")
    pipe.execute()
    return token


def record_failure(job_id: str, error: str) -> None:
    """The failure hook: a chaos job should never give up, so note it when it does."""
    ledger().hset(dead_key(run_of(job_id)), job_id, error[:500])


@job(
    JOB_NAME,
    queue="default",
    # Enough attempts to ride out the faults (a step whose memo write met a
    # dead Redis fails its attempt); short backoff to keep latency readable.
    retries=8,
    min_backoff_s=0.5,
    max_backoff_s=5.0,
    on_success=record_success,
    on_failure=record_failure,
)
async def three_steps(ctx: JobContext, data: ChaosIn) -> str:
    """s1, a durable sleep, s2 (fails once when asked), s3."""
    await ctx.run("s1", step, ctx.job_id, "s1", False, data.work_s)
    await ctx.sleep("nap", data.sleep_s)
    await ctx.run("s2", step, ctx.job_id, "s2", data.fail_once, data.work_s)
    await ctx.run("s3", step, ctx.job_id, "s3", False, data.work_s)
    return "done"
