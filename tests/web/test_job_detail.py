"""GET /jobs/{job_id}: a job's detail (payload, attempts, steps, Temporal run) on real engines."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.engines.temporal import connect
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobStore, QueueSettings, redis_client
from jobrelay.web import WebSettings, create_app

from .conftest import make_dispatcher, serve

SUPPORT = Path(__file__).parent / "support"
MODULE = "jobrelay_detail_testjobs"
UI = "http://temporal-ui.example:8233/"
FINISHED = {"succeeded", "failed", "cancelled", "dead"}


@pytest.fixture
def detail_jobs(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    """``detail.flaky_once``: steps fetch, flaky (fails its first run) and big."""
    monkeypatch.setenv("DETAIL_TEST_REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs([MODULE])
    return sys.modules[MODULE]


@asynccontextmanager
async def _app(
    queue_settings: QueueSettings, temporal: TemporalDevServer, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal.address, **overrides),
        settings=WebSettings(run_reconciler=False),
    )
    async with serve(app) as client:
        yield client


@asynccontextmanager
async def _temporal_worker(
    queue_settings: QueueSettings, temporal: TemporalDevServer
) -> AsyncIterator[None]:
    """A Temporal worker of queue ``default`` in this process, keeping Redis records."""
    client = await connect(temporal.address)
    store = JobStore.from_settings(redis_client(queue_settings), queue_settings)
    worker = make_worker(client, queue_settings, "default", store=store, job_modules=[MODULE])
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        await worker.shutdown()
        await task


async def _detail_when(
    client: httpx.AsyncClient,
    job_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float = 60,
) -> dict[str, Any]:
    """The job's detail once ``done`` holds for it (the attempt log is written behind)."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if done(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id}: the detail never got there: {body}")


async def _run_id(temporal: TemporalDevServer, job_id: str) -> str:
    client = await connect(temporal.address)
    run_id = (await client.get_workflow_handle(job_id).describe()).run_id
    assert run_id
    return run_id


def _finished_with_log(body: dict[str, Any]) -> bool:
    history = body["history"]
    return body["state"] in FINISHED and bool(history) and history[-1]["outcome"] in FINISHED


async def _dispatch(client: httpx.AsyncClient, key: str, engine: str) -> str:
    response = await client.post(
        "/jobs", json={"name": "detail.flaky_once", "payload": {"key": key, "size": 3000}}
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["engine"] == engine, receipt
    job_id: str = receipt["job_id"]
    return job_id


def _check_steps(steps: list[dict[str, Any]]) -> None:
    assert [(s["step_id"], s["state"], s["attempts"]) for s in steps] == [
        ("fetch", "succeeded", 1),
        ("flaky", "succeeded", 2),
        ("big", "succeeded", 1),
    ]
    fetch, flaky, big = steps
    assert fetch["result"] == "1"
    assert flaky["result"] == '"done"' and flaky["error"] is None
    assert all(s["duration_ms"] is not None and s["duration_ms"] >= 0 for s in steps)
    # A long result is cut, and says so.
    assert big["result"].startswith('"' + "x" * 100)
    assert len(big["result"]) < 2100
    assert "truncated: 3002 characters" in big["result"]


def _check_failed_attempt(first: dict[str, Any]) -> None:
    assert first["attempt"] == 1
    assert first["outcome"] == "retrying"
    assert first["error"] == "RuntimeError: the first try fails"
    lines = first["traceback"].splitlines()
    assert 1 < len(lines) <= 15
    assert lines[-1] == "RuntimeError: the first try fails"
    assert any("fail_first_time" in line for line in lines)
    assert first["started_at"] <= first["ended_at"]


@pytest.fixture
def dramatiq_worker_for_detail(
    detail_jobs: ModuleType, dramatiq_worker: None, live_worker: Callable[[str], None]
) -> None:
    """The in-process Dramatiq worker, announced live so the dispatcher picks Dramatiq."""
    live_worker("default")


async def test_a_job_that_failed_once_on_dramatiq_shows_both_attempts_and_its_steps(
    queue_settings: QueueSettings,
    temporal_server: TemporalDevServer,
    dramatiq_worker_for_detail: None,
) -> None:
    key = f"detail-{uuid.uuid4().hex[:8]}"
    async with _app(queue_settings, temporal_server) as client:
        job_id = await _dispatch(client, key, "dramatiq")
        body = await _detail_when(client, job_id, _finished_with_log)

    assert body["state"] == "succeeded"
    assert body["result"] == {"fetched": 1, "done": "done", "size": 3000}
    assert body["payload"] == {"key": key, "size": 3000}
    assert body["reason"] == "ok"
    assert body["temporal"] is None
    history = body["history"]
    assert [(a["attempt"], a["engine"], a["outcome"]) for a in history] == [
        (1, "dramatiq", "retrying"),
        (2, "dramatiq", "succeeded"),
    ]
    _check_failed_attempt(history[0])
    second = history[1]
    assert second["error"] is None and second["traceback"] is None
    assert {a["worker"] for a in history} == {f"{socket.gethostname()}:{os.getpid()}"}
    assert history[0]["ended_at"] <= second["started_at"] <= second["ended_at"]
    _check_steps(body["steps"])


async def test_a_job_that_failed_once_on_temporal_links_its_run_in_the_temporal_ui(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer, detail_jobs: ModuleType
) -> None:
    key = f"detail-{uuid.uuid4().hex[:8]}"
    async with (
        _app(queue_settings, temporal_server, temporal_ui_url=UI) as client,
        _temporal_worker(queue_settings, temporal_server),
    ):
        # No live Dramatiq worker: the job goes to Temporal.
        job_id = await _dispatch(client, key, "temporal")
        body = await _detail_when(client, job_id, _finished_with_log)

    run_id = await _run_id(temporal_server, job_id)
    assert body["state"] == "succeeded"
    assert body["engine"] == "temporal"
    assert body["reason"] == "no_live_worker"
    assert body["payload"] == {"key": key, "size": 3000}
    assert body["temporal"] == {
        "workflow_id": job_id,
        "run_id": run_id,
        "ui_url": f"{UI.rstrip('/')}/namespaces/default/workflows/{job_id}/{run_id}/history",
    }
    history = body["history"]
    # The step's failed activity attempt, then the run's outcome on its second attempt.
    assert [(a["attempt"], a["engine"], a["outcome"], a["step"]) for a in history] == [
        (1, "temporal", "retrying", "flaky"),
        (2, "temporal", "succeeded", None),
    ]
    _check_failed_attempt(history[0])
    # The worker's identity is its client's: "<pid>@<host>" by default.
    assert all(str(os.getpid()) in a["worker"] for a in history)
    assert history[0]["ended_at"] <= history[1]["started_at"] <= history[1]["ended_at"]
    _check_steps(body["steps"])


async def test_without_a_ui_url_a_temporal_job_has_its_ids_but_no_link(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer, detail_jobs: ModuleType
) -> None:
    key = f"detail-{uuid.uuid4().hex[:8]}"
    async with (
        _app(queue_settings, temporal_server) as client,
        _temporal_worker(queue_settings, temporal_server),
    ):
        job_id = await _dispatch(client, key, "temporal")
        body = await _detail_when(client, job_id, _finished_with_log)
    assert body["temporal"]["workflow_id"] == job_id
    assert body["temporal"]["run_id"]
    assert body["temporal"]["ui_url"] is None


async def test_a_job_only_temporal_knows_has_its_run_and_no_logs(
    own_redis: RedisServer,
    prefix: str,
    temporal_server: TemporalDevServer,
    detail_jobs: ModuleType,
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    key = f"detail-{uuid.uuid4().hex[:8]}"
    async with _app(settings, temporal_server, temporal_ui_url=UI) as client:
        async with _temporal_worker(settings, temporal_server):
            job_id = await _dispatch(client, key, "temporal")
            await _detail_when(client, job_id, _finished_with_log)
        own_redis.stop()  # Redis is gone: only Temporal can answer
        response = await client.get(f"/jobs/{job_id}")

    assert response.status_code == 200, response.text
    body = response.json()
    run_id = await _run_id(temporal_server, job_id)
    assert body["state"] == "succeeded"
    assert (body["history"], body["steps"], body["payload"]) == ([], [], None)
    assert body["temporal"] == {
        "workflow_id": job_id,
        "run_id": run_id,
        "ui_url": f"{UI.rstrip('/')}/namespaces/default/workflows/{job_id}/{run_id}/history",
    }


async def test_an_unknown_job_is_still_404(web_client: httpx.AsyncClient) -> None:
    response = await web_client.get(f"/jobs/no-such-job-{uuid.uuid4().hex[:8]}")
    assert response.status_code == 404, response.text
