from __future__ import annotations

import os
import time

import redis
from jobrelay.queue import ENGINE_TEMPORAL, QueueSettings, WorkerInfo, WorkerRegistry


def _info(worker_id: str, queues: list[str]) -> WorkerInfo:
    return WorkerInfo(
        worker_id=worker_id, host="h", pid=os.getpid(), queues=queues, started_at=time.time()
    )


def test_live_worker_detection_honours_ttl(
    redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    registry = WorkerRegistry(redis_conn, queue_settings.keys, ttl_s=0.5)
    assert registry.live_count("default") == 0
    registry.heartbeat(_info("w1", ["default", "scheduled"]))
    assert registry.live_count("default") == 1
    assert registry.live_count("scheduled") == 1
    assert registry.live_count("data_sync") == 0
    [info] = registry.live_workers("default")
    assert info.worker_id == "w1" and info.last_seen > 0

    time.sleep(0.7)
    assert registry.live_count("default") == 0
    assert registry.live_workers("default") == []

    registry.heartbeat(_info("w1", ["default"]))
    registry.heartbeat(_info("w2", ["default"]))
    assert registry.live_count("default") == 2
    registry.deregister("w2", ["default"])
    assert [w.worker_id for w in registry.live_workers("default")] == ["w1"]


def test_temporal_workers_are_listed_but_never_count_as_live_for_dispatch(
    redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    registry = WorkerRegistry.from_settings(redis_conn, queue_settings)
    registry.heartbeat(_info("t1", ["default"]).model_copy(update={"engine": ENGINE_TEMPORAL}))
    # An enqueued Dramatiq message waits for a Dramatiq worker, whatever else runs.
    assert registry.live_count("default") == 0
    [listed] = registry.live_workers("default")
    assert (listed.worker_id, listed.engine) == ("t1", ENGINE_TEMPORAL)

    registry.heartbeat(_info("d1", ["default"]))
    assert registry.live_count("default") == 1
    assert {w.worker_id for w in registry.live_workers("default")} == {"t1", "d1"}
    assert [w.worker_id for w in registry.live_workers("default", (ENGINE_TEMPORAL,))] == ["t1"]

    registry.deregister("t1", ["default"], engine=ENGINE_TEMPORAL)
    assert [w.worker_id for w in registry.live_workers("default")] == ["d1"]
