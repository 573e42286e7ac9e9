"""The producer side: connect, unavailability as a typed error, delayed starts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from jobrelay.devservers import TemporalDevServer, free_port
from jobrelay.engines import TemporalEngine
from jobrelay.engines.temporal import TemporalAdapter, TemporalUnavailable, connect
from jobrelay.queue import JobStore, QueueSettings
from temporal_adapter_support import StartWorker, engine_job, handle, wait_until
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode


async def test_connect_uses_the_pydantic_json_converter(client: Client) -> None:
    assert client.data_converter is pydantic_data_converter


async def test_connect_to_nothing_is_temporal_unavailable() -> None:
    with pytest.raises(TemporalUnavailable):
        await connect(f"127.0.0.1:{free_port()}")


async def test_calls_to_a_stopped_server_fail_fast_as_temporal_unavailable(
    queue_settings: QueueSettings, probe: dict[str, str]
) -> None:
    with TemporalDevServer() as server:
        # The port opens before the frontend is healthy: retry the connect briefly.
        client = await wait_until(lambda: _try_connect(server.address), timeout_s=30)
        adapter: TemporalEngine = TemporalAdapter(
            client, queue_settings, timeout=timedelta(seconds=1)
        )
        server.stop()
        for call in (
            adapter.start(engine_job("trt.three_steps", probe)),
            adapter.describe("any"),
            adapter.cancel("any"),
        ):
            with pytest.raises(TemporalUnavailable) as info:
                await call
            # "Fast" means ended by the adapter's 1 s timeout (its own, or the
            # same deadline on the RPC). Left alone, the SDK retries the refused
            # connect for about 10 s, then gives up with UNAVAILABLE: the cause
            # tells them apart, where a clock on a loaded machine hardly could.
            assert _ended_by_a_timeout(info.value), repr(info.value.__cause__)


async def test_a_start_that_times_out_after_the_workflow_exists_is_not_refused(
    client: Client, queue_settings: QueueSettings, probe: dict[str, str]
) -> None:
    job = engine_job("trt.three_steps", probe)
    # No worker polls this task queue: the workflow only has to exist.
    await TemporalAdapter(client, queue_settings).start(job, delay_s=3600)
    impatient = TemporalAdapter(client, queue_settings, timeout=timedelta(microseconds=1))

    # Times out (no call answers within 1 us), then finds the workflow.
    await impatient.start(job)

    await handle(client, job.job_id).terminate()


async def test_a_delayed_start_waits_before_running(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.three_steps", probe)

    await adapter.start(job, delay_s=1.0)
    assert effects() == {}
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 1, 1], "attempt": 1}
    described = await handle(client, job.job_id).describe()
    assert described.execution_time is not None
    assert described.execution_time - described.start_time >= timedelta(seconds=1)


def _ended_by_a_timeout(error: BaseException) -> bool:
    cause = error.__cause__
    if isinstance(cause, RPCError):
        return cause.status == RPCStatusCode.DEADLINE_EXCEEDED
    return isinstance(cause, TimeoutError)


async def _try_connect(address: str) -> Client | None:
    try:
        return await connect(address)
    except TemporalUnavailable:
        return None
