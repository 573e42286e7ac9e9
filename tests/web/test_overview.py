"""Queue statistics, their history, the summary and the job metrics, on real engines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

FINISHED = {"succeeded", "failed", "cancelled", "dead"}


async def _dispatch(
    client: httpx.AsyncClient, name: str, payload: dict[str, Any], **kw: Any
) -> str:
    response = await client.post("/jobs", json={"name": name, "payload": payload, **kw})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def _finish(client: httpx.AsyncClient, job_id: str) -> str:
    deadline = time.monotonic() + 30
    state = ""
    while time.monotonic() < deadline:
        state = str((await client.get(f"/jobs/{job_id}")).json()["state"])
        if state in FINISHED:
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id} did not finish ({state})")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_queue_stats_history_summary_and_metrics_follow_the_jobs(
    gated_job: ModuleType,
    web_client: httpx.AsyncClient,
    live_worker: Callable[[str], None],
    dramatiq_worker: None,
    prefix: str,
) -> None:
    fell_back = await _dispatch(web_client, "demo.countdown", {"start": 1})  # no live worker yet
    live_worker("default")
    done = [
        await _dispatch(web_client, "demo.countdown", {"start": 1, "pause_s": 0}) for _ in range(3)
    ]
    failing = await _dispatch(web_client, "web.gated", {"key": f"{prefix}x"})
    waiting = await _dispatch(web_client, "demo.countdown", {"start": 1}, delay=600)
    assert {await _finish(web_client, job_id) for job_id in done} == {"succeeded"}
    failed_state = await _finish(web_client, failing)

    queue = (await web_client.get("/queues/default")).json()
    # The delayed job and the Temporal one (no Temporal worker here) wait.
    assert (queue["queued"], queue["running"], queue["sleeping"]) == (2, 0, 0)
    assert queue["oldest_waiting_s"] is not None and queue["oldest_waiting_s"] >= 0
    assert round(queue["finished_per_minute"]["15"] * 15) == 4
    assert queue["finished_per_minute"]["1"] <= 4

    history = (await web_client.get("/queues/default/history", params={"minutes": 5})).json()
    assert len(history) == 5
    assert sum(point["finished"] for point in history) == 4
    assert history[-1]["depth"] == 2  # sampled by the read above
    assert (await web_client.get("/queues/nope/history")).status_code == 404
    too_long = await web_client.get("/queues/default/history", params={"minutes": 0})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == [
        "query",
        "minutes",
    ]

    summary = (await web_client.get("/summary")).json()
    assert summary["engines"]["dramatiq"]["ready"] is True
    assert summary["states"]["succeeded"] == 3 and summary["states"][failed_state] == 1
    assert summary["states"]["queued"] == 2
    assert summary["dispatch_reasons"] == {"ok": 5, "no_live_worker": 1}
    assert summary["temporal_share"] == round(1 / 6, 4)
    assert summary["workers"]["dramatiq"] == 1
    assert {q["name"] for q in summary["queues"]} == {"default", "data_sync", "scheduled"}

    metrics = _samples((await web_client.get("/metrics")).text)
    finished = "jobrelay_jobs_finished_total"
    assert (
        metrics[(finished, (("engine", "dramatiq"), ("queue", "default"), ("state", "succeeded")))]
        == 3
    )
    assert (
        metrics[(finished, (("engine", "dramatiq"), ("queue", "default"), ("state", failed_state)))]
        == 1
    )
    assert metrics[("jobrelay_queue_jobs", (("queue", "default"), ("state", "queued")))] == 2
    assert fell_back and waiting
