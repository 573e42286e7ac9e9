"""The Redis owner claim at workflow start (docs/architecture.md, Ownership)."""

from __future__ import annotations

from collections.abc import Callable

import redis
from jobrelay.devservers import RedisServer
from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.queue import JobRecord, JobState, JobStore, QueueSettings, redis_client
from temporal_adapter_support import StartWorker, engine_job, handle, wait_until
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


async def test_a_job_owned_by_dramatiq_ends_as_a_duplicate_without_running_a_step(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    job = engine_job("trt.three_steps", probe)
    store.create(JobRecord(job_id=job.job_id, name=job.name, queue=job.queue))
    assert store.claim(job.job_id, "dramatiq") == "dramatiq"
    await start_worker(queue_settings, store)

    await adapter.start(job)
    outcome = await handle(client, job.job_id).result()

    assert outcome.duplicate_of == "dramatiq"
    assert outcome.result is None
    assert effects() == {}
    assert store.owner(job.job_id) == "dramatiq"
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.QUEUED  # untouched
    status = await adapter.describe(job.job_id)
    assert status is not None and status["duplicate_of"] == "dramatiq"


async def test_a_job_whose_record_already_finished_is_not_run_again(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    # An earlier Temporal run finished and its workflow is gone from Temporal
    # (retention): a late start, say by a reconciler, must not repeat the job.
    job = engine_job("trt.three_steps", probe)
    store.create(JobRecord(job_id=job.job_id, name=job.name, queue=job.queue))
    assert store.claim(job.job_id, "temporal") == "temporal"
    assert store.finish(job.job_id, JobState.SUCCEEDED, result={"values": [1, 1, 1]})
    await start_worker(queue_settings, store)

    await adapter.start(job)
    outcome = await handle(client, job.job_id).result()

    assert outcome.duplicate_of == "temporal"
    assert effects() == {}
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.SUCCEEDED


async def test_with_redis_stopped_the_workflow_still_runs_to_completion(
    client: Client,
    start_worker: StartWorker,
    own_redis: RedisServer,
    prefix: str,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    # The job's store lives on a Redis of its own, stopped; side effects are
    # counted on the session Redis.
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = JobStore.from_settings(redis_client(settings), settings)
    own_redis.stop()
    await start_worker(settings, store)
    adapter = TemporalAdapter(client, settings)
    job = engine_job("trt.three_steps", probe)

    await adapter.start(job)
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 1, 1], "attempt": 1}
    assert effects() == {"one": 1, "two": 1, "three": 1}
    status = await adapter.describe(job.job_id)
    assert status is not None and status["state"] == "succeeded"


async def test_a_job_started_while_redis_was_down_appears_in_redis_once_it_is_back(
    client: Client,
    start_worker: StartWorker,
    own_redis: RedisServer,
    prefix: str,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = JobStore.from_settings(redis_client(settings), settings)
    own_redis.stop()
    await start_worker(settings, store)
    adapter = TemporalAdapter(client, settings)
    job = engine_job("trt.blocker", probe)

    await adapter.start(job)
    await wait_until(lambda: effects().get("wait") == 1, what="the blocking step to start")
    own_redis.start()
    release = redis.Redis.from_url(probe["redis_url"])
    release.set(f"{probe['key']}:release", 1, ex=60)
    release.close()
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 1], "attempt": 1}
    record = store.get(job.job_id)
    assert record is not None
    assert record.state is JobState.SUCCEEDED
    assert (record.name, record.queue, record.engine) == ("trt.blocker", "default", "temporal")
    assert store.owner(job.job_id) == "temporal"


async def _waiting_for_the_claim(client: Client, job_id: str) -> bool:
    history = await handle(client, job_id).fetch_history()
    return any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history.events)


async def test_a_job_to_claim_first_runs_nothing_while_redis_is_away_then_yields_to_dramatiq(
    client: Client,
    start_worker: StartWorker,
    own_redis: RedisServer,
    prefix: str,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    # The dispatcher's admit may have landed before Redis went away: the
    # record and a message may be there for a Dramatiq worker to take.
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = JobStore.from_settings(redis_client(settings), settings)
    own_redis.stop()
    await start_worker(settings, store)
    job = engine_job("trt.three_steps", probe).model_copy(update={"claim_first": True})

    await TemporalAdapter(client, settings).start(job)
    await wait_until(lambda: _waiting_for_the_claim(client, job.job_id), what="a claim wait")
    assert effects() == {}
    own_redis.start()
    # What the Dramatiq worker that took the message did as Redis came back.
    store.create(JobRecord(job_id=job.job_id, name=job.name, queue=job.queue))
    assert store.claim(job.job_id, "dramatiq") == "dramatiq"
    outcome = await handle(client, job.job_id).result()

    assert outcome.duplicate_of == "dramatiq"
    assert effects() == {}


async def test_a_job_to_claim_first_runs_once_redis_answers_and_the_claim_is_its_own(
    client: Client,
    start_worker: StartWorker,
    own_redis: RedisServer,
    prefix: str,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = JobStore.from_settings(redis_client(settings), settings)
    own_redis.stop()
    await start_worker(settings, store)
    job = engine_job("trt.three_steps", probe).model_copy(update={"claim_first": True})

    await TemporalAdapter(client, settings).start(job)
    await wait_until(lambda: _waiting_for_the_claim(client, job.job_id), what="a claim wait")
    own_redis.start()
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 1, 1], "attempt": 1}
    assert effects() == {"one": 1, "two": 1, "three": 1}
    assert store.owner(job.job_id) == "temporal"
