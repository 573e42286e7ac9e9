"""A burst of fallbacks on a cold ``jobrelay-worker temporal``: every job finishes, once.

A Redis outage sends every job to Temporal at once. A freshly started worker
(nothing yet loaded in its workflow sandbox) used to deadlock on Python's
import lock under such a burst, or crawl at a job every two seconds while
each run imported the job code afresh. Each round here starts a new worker
process, so each round meets a cold sandbox.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable
from functools import partial

import pytest
import redis
from jobrelay.devservers import TemporalDevServer
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import ENGINE_TEMPORAL, JobStore

from .conftest import WorkerProc, wait_for

ROUNDS = 5
JOBS = 300
# Generous: at the bare engine's pace a round takes 10-30 s on a loaded
# 2-core machine; a deadlocked or crawling worker never gets there.
ROUND_TIMEOUT_S = 150


def _polling(worker: WorkerProc) -> bool:
    return "temporal workers polling" in worker.log()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _wait_finished(store: JobStore, job_ids: list[str]) -> list[str]:
    """Wait until every job finished or the round's time is up; the unfinished ones."""
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while True:
        left = [j for j in job_ids if (r := store.get(j)) is None or not r.state.finished]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1)


@pytest.mark.timeout(ROUNDS * (ROUND_TIMEOUT_S + 30))
async def test_cold_temporal_workers_finish_every_job_of_a_burst(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    temporal_server: TemporalDevServer,
    to_temporal: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    env = worker_env | {"TEMPORAL_ADDRESS": temporal_server.address}
    for round_no in range(ROUNDS):
        worker = spawn(["temporal", "--queue", "default"], env)
        wait_for(partial(_polling, worker), 30, "the worker")
        key = f"burst:{uuid.uuid4().hex[:8]}"
        receipts = await asyncio.gather(
            *(to_temporal.dispatch("wrk.tally", {"key": key}) for _ in range(JOBS))
        )
        assert {r.engine for r in receipts} == {ENGINE_TEMPORAL}
        job_ids = [r.job_id for r in receipts]

        left = await asyncio.to_thread(_wait_finished, store, job_ids)
        assert not left, (
            f"round {round_no}: {len(left)} of {JOBS} jobs unfinished; worker log tail:\n"
            + worker.log()[-3000:]
        )
        states = {r.state.value for j in job_ids if (r := store.get(j)) is not None}
        assert states == {"succeeded"}, f"round {round_no}: {states}"
        runs = {_text(k): int(v) for k, v in redis_conn.hgetall(key).items()}
        assert runs == dict.fromkeys(job_ids, 1), f"round {round_no}: a job ran twice or never"

        worker.send(signal.SIGTERM)
        assert worker.wait(60) == 0
