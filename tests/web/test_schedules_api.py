"""Run-time schedules over HTTP on real engines: make, read, change, pause, fire, backfill."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jobrelay.devservers import TemporalDevServer
from jobrelay.job_engine import Schedule, get_job
from jobrelay.job_engine import registry as job_registry
from jobrelay.queue import QueueSettings
from jobrelay.web import WebSettings, create_app

from .conftest import make_dispatcher, serve

FINISHED = {"succeeded", "failed", "cancelled", "dead"}
YEARLY = {"job": "demo.countdown", "cron": "0 0 1 1 *", "payload": {"start": 1, "pause_s": 0}}


@pytest.fixture
async def client(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> AsyncIterator[httpx.AsyncClient]:
    # No scheduler in this app: the counts below are the API's alone.
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address, api_token="tok"),
        settings=WebSettings(run_reconciler=False, scheduler=False),
    )
    async with serve(app) as http:
        http.headers["Authorization"] = "Bearer tok"
        yield http


async def _finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(300):
        body = (await client.get(f"/jobs/{job_id}")).json()
        if body.get("state") in FINISHED:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id} did not finish: {body}")


def _loc(response: httpx.Response) -> list[Any]:
    loc: list[Any] = response.json()["detail"][0]["loc"]
    return loc


async def test_a_runtime_schedule_is_made_read_changed_paused_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    made = await client.post("/schedules", json={"id": "yearly", **YEARLY, "tz": "Europe/Paris"})
    assert made.status_code == 201, made.text
    view = made.json()
    assert (view["source"], view["paused"], view["schedule"]["job"]) == (
        "runtime",
        False,
        "demo.countdown",
    )
    first = datetime.fromisoformat(view["next_ticks"][0])
    assert (first.month, first.day) == (12, 31) and first.hour == 23  # midnight in Paris
    assert len(view["next_ticks"]) == 3

    listed = (await client.get("/schedules")).json()
    assert [v["schedule"]["id"] for v in listed] == ["yearly"]
    again = await client.post("/schedules", json={"id": "yearly", **YEARLY})
    assert again.status_code == 409

    changed = await client.patch("/schedules/yearly", json={"cron": None, "every": 3600})
    assert changed.status_code == 200, changed.text
    assert changed.json()["schedule"]["every"] == "PT1H"
    bad = await client.patch("/schedules/yearly", json={"every": -1})
    assert bad.status_code == 422 and _loc(bad) == ["body", "every"]

    paused = (await client.post("/schedules/yearly/pause")).json()
    assert paused["paused"] is True and paused["next_ticks"] == []
    assert (await client.post("/schedules/yearly/resume")).json()["paused"] is False

    assert (await client.delete("/schedules/yearly")).status_code == 204
    assert (await client.get("/schedules/yearly")).status_code == 404
    gone = await client.delete("/schedules/yearly")
    assert gone.status_code == 404 and _loc(gone) == ["path", "schedule_id"]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"cron": "61 * * * *"}, ["body", "cron"]),
        ({"cron": "0 3 * * *", "tz": "Mars/Olympus"}, ["body", "tz"]),
        ({"every": 0}, ["body", "every"]),
        ({"every": 10, "job": "no.such.job"}, ["body", "job"]),
        ({"every": 10, "payload": {"start": "many"}}, ["body", "payload", "start"]),
        ({"every": 10, "id": "has space"}, ["body", "id"]),
        ({"every": 10, "overlap": "sometimes"}, ["body", "overlap"]),
        ({"every": 10, "job": None}, ["body", "job"]),
    ],
)
async def test_bad_schedules_are_422_naming_the_field(
    client: httpx.AsyncClient, fields: dict[str, Any], loc: list[str]
) -> None:
    body = {"id": "bad", "job": "demo.countdown", "payload": {"start": 1}, **fields}
    response = await client.post("/schedules", json=body)
    assert response.status_code == 422, response.text
    assert _loc(response) == loc
    assert (await client.get("/schedules")).json() == []


async def test_trigger_and_backfill_fire_ticks_once(
    client: httpx.AsyncClient, live_worker: Callable[[str], None], dramatiq_worker: None
) -> None:
    live_worker("default")
    every = {"job": "demo.countdown", "every": 60, "payload": {"start": 1, "pause_s": 0}}
    assert (await client.post("/schedules", json={"id": "minutely", **every})).status_code == 201
    triggered = await client.post("/schedules/minutely/trigger")
    assert triggered.status_code == 202
    job_id = triggered.json()["job_id"]
    assert job_id.startswith("schedule:minutely:")
    assert (await _finished(client, job_id))["state"] == "succeeded"
    shown = (await client.get("/schedules/minutely")).json()
    assert (shown["state"]["last_job"], shown["state"]["fired"]) == (job_id, 1)
    assert shown["last_job_state"] == "succeeded" and shown["state"]["last"] is None

    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(minutes=3)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    first = (await client.post("/schedules/minutely/backfill", json=window)).json()
    assert (first["fired"], first["already"]) == (4, 0)
    assert [f["tick"] for f in first["firings"]] == [
        (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z") for i in range(4)
    ]
    for firing in first["firings"]:
        assert (await _finished(client, firing["job_id"]))["state"] == "succeeded"
    newest = first["firings"][-1]["job_id"]
    shown = (await client.get("/schedules/minutely")).json()
    assert (shown["state"]["last_job"], shown["state"]["fired"]) == (newest, 5)
    repeat = (await client.post("/schedules/minutely/backfill", json=window)).json()
    assert (repeat["fired"], repeat["already"]) == (0, 4)
    assert (await client.get("/schedules/minutely")).json()["state"]["fired"] == 5

    backwards = await client.post(
        "/schedules/minutely/backfill", json={"start": window["end"], "end": window["start"]}
    )
    assert backwards.status_code == 422 and _loc(backwards) == ["body", "end"]
    too_many = {"start": (end - timedelta(days=2)).isoformat(), "end": end.isoformat()}
    huge = await client.post("/schedules/minutely/backfill", json=too_many)
    assert huge.status_code == 422 and "more than 1000 ticks" in huge.text
    naive = await client.post(
        "/schedules/minutely/backfill", json={"start": "2026-01-01T00:00:00", "end": window["end"]}
    )
    assert naive.status_code == 422 and _loc(naive) == ["body", "start"]
    assert (await client.post("/schedules/nope/trigger")).status_code == 404


async def test_a_schedule_declared_in_code_is_listed_and_paused_but_not_changed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = get_job("demo.countdown")
    coded = Schedule(id="coded", job="demo.countdown", cron="0 0 1 1 *", payload={"start": 1})
    # Only for this test: the registry gets its job back (with no schedule) at teardown.
    monkeypatch.setitem(
        job_registry._jobs, "demo.countdown", dataclasses.replace(definition, schedules=(coded,))
    )
    view = (await client.get("/schedules/coded")).json()
    assert view["source"] == "code"
    refused = await client.patch("/schedules/coded", json={"every": 5})
    assert refused.status_code == 409 and "declared in code" in refused.text
    assert (await client.delete("/schedules/coded")).status_code == 409
    taken = await client.post("/schedules", json={"id": "coded", **YEARLY})
    assert taken.status_code == 409
    assert (await client.post("/schedules/coded/pause")).json()["paused"] is True


async def test_the_web_apps_scheduler_fires_a_runtime_schedule(
    queue_settings: QueueSettings,
    temporal_server: TemporalDevServer,
    live_worker: Callable[[str], None],
    dramatiq_worker: None,
) -> None:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address),
        settings=WebSettings(run_reconciler=False, scheduler_interval_s=0.1),
    )
    async with serve(app) as client:
        live_worker("default")
        body = {
            "id": "fast",
            "job": "demo.countdown",
            "every": 1,
            "payload": {"start": 1, "pause_s": 0},
        }
        assert (await client.post("/schedules", json=body)).status_code == 201
        fired: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            fired = (await client.get("/schedules/fast")).json()
            if fired["state"]["fired"] >= 2 and fired["last_job_state"] == "succeeded":
                break
            await asyncio.sleep(0.2)
        assert fired["state"]["fired"] >= 2, fired
        assert fired["state"]["last_job"].startswith("schedule:fast:")
        listed = (await client.get("/jobs", params={"name": "demo.countdown"})).json()["items"]
        assert all(item["job_id"].startswith("schedule:fast:") for item in listed) and listed
