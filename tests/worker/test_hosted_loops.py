"""What ``run`` hosts besides workers: the wake-up pump and the reconciler."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable

import redis
from jobrelay.devservers import TemporalDevServer
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import JobRecord, JobStore, WorkerRegistry

from .conftest import WorkerProc, counter, finished, live_worker, wait_for


async def test_run_wakes_sleepers_and_moves_unclaimed_jobs_to_temporal(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    temporal_server: TemporalDevServer,
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    env = worker_env | {
        "TEMPORAL_ADDRESS": temporal_server.address,
        "WORKER_RECONCILE_INTERVAL_S": "0.3",
    }
    fallback = spawn(["temporal", "--queue", "default"], env)
    worker = spawn(["run", "--queue", "default"], env)
    wait_for(lambda: "temporal workers polling" in fallback.log(), 60, "the Temporal worker")
    # Live before the dispatch, or it goes to Temporal (no live worker).
    wait_for(lambda: live_worker(registry, "default", worker), 30, "the Dramatiq worker")

    # A sleep past the adapter's threshold parks in Redis; only the pump brings it back.
    nap_key = f"wrk:{uuid.uuid4().hex[:8]}"
    napper = await dispatcher.dispatch("wrk.napper", {"key": nap_key, "seconds": 2})
    assert napper.engine == "dramatiq"
    wait_for(lambda: store.get(napper.job_id).state == "sleeping", 30, "the nap")  # type: ignore[union-attr]

    # A job whose message never reached a worker: past its pickup deadline the
    # reconciler claims it for Temporal and starts its workflow.
    lost_key = f"wrk:{uuid.uuid4().hex[:8]}"
    lost_id = uuid.uuid4().hex
    store.create(
        JobRecord(
            job_id=lost_id,
            name="wrk.three_steps",
            queue="default",
            payload=json.dumps({"key": lost_key, "seconds": 0.1}),
        ),
        pickup_deadline=time.time() + 0.5,
    )

    wait_for(lambda: finished(store, napper.job_id), 15, "the sleeper to wake and finish")
    assert [counter(redis_conn, f"{nap_key}:{s}") for s in ("before", "after")] == [1, 1]
    wait_for(lambda: finished(store, lost_id), 40, "the unclaimed job on Temporal")
    lost = store.get(lost_id)
    assert lost is not None and (lost.state, lost.engine) == ("succeeded", "temporal")
    assert counter(redis_conn, f"{lost_key}:last") == 1

    worker.send(signal.SIGTERM)
    fallback.send(signal.SIGTERM)
    assert worker.wait(20) == 0
    assert fallback.wait(30) == 0
