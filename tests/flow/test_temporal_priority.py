"""Priorities on Temporal: with 200 low then 20 high jobs waiting in a task queue, a
worker starts the high ones first (the server's task queue priority)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from types import ModuleType

import pytest
from flow_test_support import TESTJOBS, Spans
from jobrelay.devservers import TemporalDevServer
from jobrelay.engines import EngineJob
from jobrelay.engines.temporal import TemporalAdapter, connect
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.job_engine import get_job
from jobrelay.queue import JobStore, QueueSettings


class OnePartitionServer(TemporalDevServer):
    """A dev server whose task queues have one partition.

    Temporal orders tasks by priority within a partition; a task queue has
    four by default, so a low task of a lightly loaded partition may go
    before a high one of another. One partition shows the ordering itself.
    """

    def _argv(self) -> list[str]:
        one = ("matching.numTaskqueueReadPartitions=1", "matching.numTaskqueueWritePartitions=1")
        return [*super()._argv(), *(a for v in one for a in ("--dynamic-config-value", v))]


@pytest.fixture(scope="module")
def one_partition_server() -> Iterator[TemporalDevServer]:
    with OnePartitionServer() as server:
        yield server


@pytest.mark.timeout(180)
async def test_with_200_low_then_20_high_waiting_the_high_ones_start_first(
    flowjobs: ModuleType,
    one_partition_server: TemporalDevServer,
    queue_settings: QueueSettings,
    store: JobStore,
    spans: Spans,
    run_id: str,
) -> None:
    client = None
    deadline = time.monotonic() + 60
    while client is None:
        try:
            client = await connect(one_partition_server.address)
        except Exception:
            assert time.monotonic() < deadline, "the dev server never took clients"
            await asyncio.sleep(0.5)
    adapter = TemporalAdapter(client, queue_settings)

    def job(label: str, priority: int) -> EngineJob:
        data = get_job("flowt.plain").dump_payload({"run": run_id, "label": label})
        return EngineJob(
            job_id=f"prio-{uuid.uuid4().hex[:12]}",
            name="flowt.plain",
            queue="default",
            payload=data,
            priority=priority,
        )

    for _ in range(200):
        await adapter.start(job("low", 5))
    for _ in range(20):
        await adapter.start(job("high", 1))
    # One job at a time, so the order they start in is the order they were taken.
    worker = make_worker(
        client,
        queue_settings,
        "default",
        store=store,
        job_modules=[TESTJOBS],
        max_concurrent_workflow_tasks=1,
        max_concurrent_activities=1,
    )
    async with worker:
        found = await spans.until(220, 150)
    order = [s["label"] for s in sorted(found, key=lambda s: s["start"])]
    print("first 30 started:", "".join(label[0] for label in order[:30]))
    # Temporal matches tasks to pollers by priority, but a task an SDK poller
    # already holds runs when its turn comes: one clean run in five put a
    # single low job 20th. The high ones still go before the other 199.
    assert order[:22].count("high") == 20, "".join(label[0] for label in order[:30])
