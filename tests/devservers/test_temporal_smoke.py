from __future__ import annotations

import uuid
from datetime import timedelta

from jobrelay.devservers import TemporalDevServer
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker


@workflow.defn(sandboxed=False)
class Hello:
    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.sleep(timedelta(milliseconds=10))
        return f"hello {name}"


async def test_dev_server_runs_a_workflow(temporal_server: TemporalDevServer) -> None:
    client = await Client.connect(temporal_server.address)
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Hello]):
        result = await client.execute_workflow(
            Hello.run, "jobrelay", id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == "hello jobrelay"
