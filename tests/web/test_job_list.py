"""The job list, bulk retry and cancel, and delete, over HTTP with real engines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from types import ModuleType
from typing import Any

import httpx
import pytest
import redis
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.queue import QueueSettings
from jobrelay.web import WebSettings, create_app

from .conftest import make_dispatcher, serve

FINISHED = {"succeeded", "failed", "cancelled", "dead"}


async def _finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await client.get(f"/jobs/{job_id}")).json()
        if body["state"] in FINISHED:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {body}")


async def _dispatch(
    client: httpx.AsyncClient, name: str, payload: dict[str, Any], **kw: Any
) -> str:
    response = await client.post("/jobs", json={"name": name, "payload": payload, **kw})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def _problem(response: httpx.Response) -> list[Any]:
    loc: list[Any] = response.json()["detail"][0]["loc"]
    return loc


async def test_the_list_filters_pages_and_orders_jobs_of_both_engines(
    gated_job: ModuleType,
    web_client: httpx.AsyncClient,
    live_worker: Callable[[str], None],
    dramatiq_worker: None,
    prefix: str,
) -> None:
    # No live worker yet: this job falls back to Temporal, and is listed all the same.
    on_temporal = await _dispatch(web_client, "demo.countdown", {"start": 1})
    live_worker("default")
    failing = [await _dispatch(web_client, "web.gated", {"key": f"{prefix}f{i}"}) for i in range(3)]
    passing = [
        await _dispatch(web_client, "demo.countdown", {"start": 1, "pause_s": 0}) for _ in range(2)
    ]
    states = {job_id: (await _finished(web_client, job_id))["state"] for job_id in failing}
    failed_state = states[failing[0]]
    assert set(states.values()) == {failed_state} and failed_state in {"failed", "dead"}
    for job_id in passing:
        await _finished(web_client, job_id)

    everything = (await web_client.get("/jobs")).json()
    ids = [item["job_id"] for item in everything["items"]]
    assert ids == [*reversed(passing), *reversed(failing), on_temporal]
    assert everything["next_cursor"] is None
    by_id = {item["job_id"]: item for item in everything["items"]}
    assert by_id[on_temporal]["engine"] == "temporal"
    assert by_id[on_temporal]["reason"] == "no_live_worker"

    failed = (await web_client.get("/jobs", params={"state": failed_state})).json()
    assert [item["job_id"] for item in failed["items"]] == list(reversed(failing))
    assert all(item["error"] for item in failed["items"])
    temporal = (await web_client.get("/jobs", params={"engine": "temporal"})).json()
    assert [item["job_id"] for item in temporal["items"]] == [on_temporal]
    named = (await web_client.get("/jobs", params={"name": "web.gated"})).json()
    assert [item["job_id"] for item in named["items"]] == list(reversed(failing))

    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"queue": "default", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await web_client.get("/jobs", params=params)).json()
        pages.append([item["job_id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [
        list(reversed(passing)),
        [failing[2], failing[1]],
        [failing[0], on_temporal],
    ]

    # Times bound the creation instant: between the last failing job and the first passing one.
    before = datetime.fromisoformat(by_id[failing[-1]]["created_at"]).timestamp()
    first = datetime.fromisoformat(by_id[passing[0]]["created_at"]).timestamp()
    recent = (await web_client.get("/jobs", params={"since": (before + first) / 2})).json()
    assert [item["job_id"] for item in recent["items"]] == list(reversed(passing))


async def test_bad_list_arguments_name_the_field(web_client: httpx.AsyncClient) -> None:
    cases = {
        "state=unknown": ["query", "state"],
        "engine=celery": ["query", "engine"],
        "limit=0": ["query", "limit"],
        "limit=501": ["query", "limit"],
        "cursor=%21%21nope": ["query", "cursor"],
        "since=2026-01-01T00:00:00": ["query", "since"],
        "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z": ["query", "until"],
        "queue=has%20space": ["query", "queue"],
    }
    for query, loc in cases.items():
        response = await web_client.get(f"/jobs?{query}")
        assert response.status_code == 422, (query, response.text)
        assert _problem(response) == loc, query
    bulk = await web_client.post("/jobs/retry?state=bogus")
    assert bulk.status_code == 422 and _problem(bulk) == ["query", "state"]


async def test_bulk_retry_acts_once_within_the_limit(
    gated_job: ModuleType,
    queue_settings: QueueSettings,
    temporal_server: TemporalDevServer,
    live_worker: Callable[[str], None],
    dramatiq_worker: None,
    redis_server: RedisServer,
    prefix: str,
) -> None:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address, bulk_limit=3),
        settings=WebSettings(run_reconciler=False),
    )
    async with serve(app) as client:
        live_worker("default")
        keys = [f"{prefix}b{i}" for i in range(4)]
        ids = [await _dispatch(client, "web.gated", {"key": key}) for key in keys]
        failed_state = {(await _finished(client, job_id))["state"] for job_id in ids}
        assert len(failed_state) == 1

        over = await client.post("/jobs/retry", params={"limit": 4})
        assert over.status_code == 422 and _problem(over) == ["query", "limit"]
        assert "JOBRELAY_BULK_LIMIT" in over.json()["detail"][0]["msg"]

        with redis.Redis.from_url(redis_server.url) as r:
            for key in keys:
                r.set(f"{key}:ok", "1")
        first = (await client.post("/jobs/retry", params={"name": "web.gated"})).json()
        assert (first["matched"], first["acted"], first["failed"], first["more"]) == (
            3,
            3,
            0,
            True,
        )
        rest = (await client.post("/jobs/retry", params={"name": "web.gated"})).json()
        assert (rest["matched"], rest["acted"], rest["more"]) == (1, 1, False)
        for job_id in ids:
            assert (await _finished(client, job_id))["state"] == "succeeded"
        # Idempotent: nothing is left to retry.
        again = (await client.post("/jobs/retry", params={"name": "web.gated"})).json()
        assert (again["matched"], again["acted"]) == (0, 0)
        with redis.Redis.from_url(redis_server.url) as r:
            assert [int(r.get(f"{key}:runs") or 0) for key in keys] == [2, 2, 2, 2]


async def test_bulk_cancel_stops_the_waiting_jobs_and_a_repeat_finds_none(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None]
) -> None:
    live_worker("default")
    waiting = [
        await _dispatch(web_client, "demo.countdown", {"start": 1}, delay=300) for _ in range(3)
    ]
    outcome = (await web_client.post("/jobs/cancel", params={"state": "queued"})).json()
    assert (outcome["matched"], outcome["acted"], outcome["failed"]) == (3, 3, 0)
    for job_id in waiting:
        assert (await _finished(web_client, job_id))["state"] == "cancelled"
    repeat = (await web_client.post("/jobs/cancel", params={"state": "queued"})).json()
    assert repeat["matched"] == 0
    none = (await web_client.post("/jobs/cancel", params={"state": "succeeded"})).json()
    assert none["matched"] == 0


async def test_delete_removes_a_finished_job_only(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None], dramatiq_worker: None
) -> None:
    live_worker("default")
    done = await _dispatch(web_client, "demo.countdown", {"start": 1, "pause_s": 0})
    await _finished(web_client, done)
    waiting = await _dispatch(web_client, "demo.countdown", {"start": 1}, delay=300)

    busy = await web_client.delete(f"/jobs/{waiting}")
    assert busy.status_code == 409
    assert busy.json()["detail"][0]["state"] == "queued"
    assert busy.json()["detail"][0]["loc"] == ["path", "job_id"]

    gone = await web_client.delete(f"/jobs/{done}")
    assert gone.status_code == 204
    assert (await web_client.get(f"/jobs/{done}")).status_code == 404
    listed = (await web_client.get("/jobs")).json()
    assert [item["job_id"] for item in listed["items"]] == [waiting]
    assert (await web_client.delete(f"/jobs/{done}")).status_code == 404
    assert (await web_client.delete("/jobs/bad%20id")).status_code == 422


@pytest.fixture
async def token_client(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address, api_token="s3cret"),
        settings=WebSettings(run_reconciler=False),
    )
    async with serve(app) as client:
        yield client


async def test_the_list_and_bulk_actions_need_the_token(token_client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/jobs"),
        ("POST", "/jobs/retry"),
        ("POST", "/jobs/cancel"),
        ("DELETE", "/jobs/x"),
    ]:
        assert (await token_client.request(method, path)).status_code == 401, path
    ok = await token_client.get("/jobs", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json() == {"items": [], "next_cursor": None}
