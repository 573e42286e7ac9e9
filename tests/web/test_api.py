from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from jobrelay.devservers import RedisServer, TemporalDevServer, free_port
from jobrelay.queue import QueueSettings
from jobrelay.web import WebSettings, create_app
from prometheus_client.parser import text_string_to_metric_families

from .conftest import make_dispatcher, serve


async def _wait_finished(
    client: httpx.AsyncClient, job_id: str, timeout_s: float = 30
) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, object] = (await client.get(f"/jobs/{job_id}")).json()
        if body["state"] in {"succeeded", "failed", "cancelled", "dead"}:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {body}")


async def test_dispatch_runs_on_dramatiq_and_reports_status(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None], dramatiq_worker: None
) -> None:
    live_worker("default")
    response = await web_client.post(
        "/jobs", json={"name": "demo.countdown", "payload": {"start": 3, "pause_s": 0}}
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert (receipt["engine"], receipt["reason"], receipt["deduplicated"]) == (
        "dramatiq",
        "ok",
        False,
    )
    status = await _wait_finished(web_client, receipt["job_id"])
    assert status["state"] == "succeeded"
    assert status["result"] == {"counted": [3, 2, 1]}
    assert status["engine"] == "dramatiq"

    again = await web_client.post(
        "/jobs", json={"name": "demo.countdown", "payload": {}, "job_id": receipt["job_id"]}
    )
    assert again.status_code == 202
    assert again.json()["deduplicated"] is True


async def _metric(web_client: httpx.AsyncClient, name: str, **labels: str) -> float:
    response = await web_client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def test_without_worker_the_job_runs_on_temporal_and_metrics_say_why(
    web_client: httpx.AsyncClient,
) -> None:
    fallback = {"queue": "default", "engine": "temporal", "reason": "no_live_worker"}
    before = await _metric(web_client, "jobrelay_dispatch_total", **fallback)
    timed = await _metric(web_client, "jobrelay_dispatch_seconds_count", engine="temporal")

    response = await web_client.post(
        "/jobs", json={"name": "demo.countdown", "payload": {"start": 1}}
    )
    assert response.status_code == 202
    assert response.json()["engine"] == "temporal"
    assert response.json()["reason"] == "no_live_worker"
    # Counters are per process and other tests dispatch too: compare, don't assume zero.
    assert await _metric(web_client, "jobrelay_dispatch_total", **fallback) == before + 1
    assert (
        await _metric(web_client, "jobrelay_dispatch_seconds_count", engine="temporal") == timed + 1
    )


async def test_bad_input_names_the_field(web_client: httpx.AsyncClient) -> None:
    unknown = await web_client.post("/jobs", json={"name": "no.such.job", "payload": {}})
    assert unknown.status_code == 404
    assert unknown.json()["detail"][0]["loc"] == ["body", "name"]

    invalid = await web_client.post(
        "/jobs", json={"name": "demo.countdown", "payload": {"start": 0}}
    )
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "payload", "start"]

    bad_id = await web_client.post(
        "/jobs", json={"name": "demo.countdown", "payload": {}, "job_id": "has space"}
    )
    assert bad_id.status_code == 422
    assert bad_id.json()["detail"][0]["loc"] == ["body", "job_id"]

    not_json = await web_client.post(
        "/jobs", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422

    missing = await web_client.get("/jobs/nope-123")
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["loc"] == ["path", "job_id"]


async def test_job_types_and_health(web_client: httpx.AsyncClient) -> None:
    names = {t["name"] for t in (await web_client.get("/job-types")).json()}
    assert {"demo.countdown", "booking.send_confirmation"} <= names
    health = (await web_client.get("/health")).json()
    assert health["redis"] == "up"
    assert health["breaker"] == "closed"
    assert set((await web_client.get("/workers")).json()) == {"default", "data_sync", "scheduled"}


async def test_token_is_required_when_configured(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> None:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address, api_token="s3cret"),
        settings=WebSettings(run_reconciler=False),
    )
    async with serve(app) as client:
        assert (await client.get("/jobs/x")).status_code == 401
        assert (await client.post("/queues/default/pause")).status_code == 401
        wrong = await client.get("/jobs/x", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await client.get("/jobs/x", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 404


async def test_both_engines_down_is_503_with_retry_after(
    own_redis: RedisServer, prefix: str
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    dead_temporal = f"127.0.0.1:{free_port()}"
    app = create_app(
        dispatcher=make_dispatcher(settings, dead_temporal),
        settings=WebSettings(run_reconciler=False),
    )
    own_redis.stop()
    refused = {"queue": "default", "reason": "redis_unavailable"}
    async with serve(app) as client:
        before = await _metric(client, "jobrelay_dispatch_unavailable_total", **refused)
        response = await client.post("/jobs", json={"name": "demo.countdown", "payload": {}})
        after = await _metric(client, "jobrelay_dispatch_unavailable_total", **refused)
    assert after == before + 1
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "redis_unavailable" in response.json()["detail"]


async def test_a_batch_answers_each_item_in_place(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None], dramatiq_worker: None
) -> None:
    live_worker("default")
    jobs = [
        {"name": "demo.countdown", "payload": {"start": 1, "pause_s": 0}},
        {"name": "no.such.job", "payload": {}},
        {"name": "demo.countdown", "payload": {"start": 0}},
        {"name": "demo.countdown", "payload": {}, "job_id": "has space"},
        {"name": "demo.countdown", "payload": {}, "confirm": "pickup"},
        {"name": "demo.countdown", "payload": {"start": 2, "pause_s": 0}},
    ]
    response = await web_client.post("/jobs/batch", json={"jobs": jobs})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["failed"]) == (2, 4)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    errors = {r["index"]: r["error"] for r in results if r["error"]}
    assert {i: (e["status"], e["detail"][0]["loc"]) for i, e in errors.items()} == {
        1: (404, ["body", "jobs", 1, "name"]),
        2: (422, ["body", "jobs", 2, "payload", "start"]),
        3: (422, ["body", "jobs", 3, "job_id"]),
        4: (422, ["body", "jobs", 4, "confirm"]),
    }
    for index in (0, 5):
        receipt = results[index]["receipt"]
        assert (receipt["engine"], receipt["reason"]) == ("dramatiq", "ok")
        assert (await _wait_finished(web_client, receipt["job_id"]))["state"] == "succeeded"


async def test_a_batch_too_big_or_empty_names_the_jobs_field(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> None:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address, max_batch_size=2),
        settings=WebSettings(run_reconciler=False),
    )
    job = {"name": "demo.countdown", "payload": {}}
    async with serve(app) as client:
        too_big = await client.post("/jobs/batch", json={"jobs": [job] * 3})
        empty = await client.post("/jobs/batch", json={"jobs": []})
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["body", "jobs"]
    assert "JOBRELAY_MAX_BATCH_SIZE" in too_big.json()["detail"][0]["msg"]
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "jobs"]


async def test_healthz_answers_and_readyz_says_which_engine_can_take_a_job(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None]
) -> None:
    assert (await web_client.get("/healthz")).json() == {"status": "ok"}
    no_worker = await web_client.get("/readyz")
    assert no_worker.status_code == 200  # Temporal can
    assert (no_worker.json()["dramatiq"]["ready"], no_worker.json()["temporal"]["ready"]) == (
        False,
        True,
    )
    live_worker("default")
    both = (await web_client.get("/readyz")).json()
    assert both["status"] == "ready"
    assert both["dramatiq"]["ready"] is True and both["dramatiq"]["live_workers"]["default"] >= 1


async def test_readyz_is_503_when_neither_engine_can_take_a_job(
    own_redis: RedisServer, prefix: str
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    app = create_app(
        dispatcher=make_dispatcher(settings, f"127.0.0.1:{free_port()}"),
        settings=WebSettings(run_reconciler=False),
    )
    own_redis.stop()
    async with serve(app) as client:
        healthz = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert healthz.status_code == 200  # the process answers all the same
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["dramatiq"]["redis"] == "down"
    assert body["temporal"]["ready"] is False


async def test_one_worker_by_id_and_404_for_an_unknown_one(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None]
) -> None:
    live_worker("data_sync")
    listed = (await web_client.get("/workers")).json()["data_sync"]
    assert len(listed) == 1
    one = await web_client.get(f"/workers/{listed[0]['worker_id']}")
    assert one.status_code == 200
    assert one.json() == listed[0]
    missing = await web_client.get("/workers/nobody")
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["loc"] == ["path", "worker_id"]


async def test_queues_list_and_pause_and_resume_one(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None]
) -> None:
    live_worker("default")
    listed = {q["name"]: q for q in (await web_client.get("/queues")).json()}
    assert set(listed) == {"default", "data_sync", "scheduled"}
    assert listed["default"]["live_workers"] == {"dramatiq": 1, "temporal": 0}
    assert listed["default"]["paused"] is False

    paused = await web_client.post("/queues/default/pause")
    assert paused.json() == {"queue": "default", "paused": True, "changed": True}
    again = await web_client.post("/queues/default/pause")
    assert again.json()["changed"] is False
    # Jobs dispatched now wait on Dramatiq; nothing consumes in this test.
    receipt = (
        await web_client.post("/jobs", json={"name": "demo.countdown", "payload": {}})
    ).json()
    assert receipt["engine"] == "dramatiq"
    one = (await web_client.get("/queues/default")).json()
    assert (one["paused"], one["ready"]) == (True, 1)
    assert one["paused_at"] is not None

    resumed = await web_client.post("/queues/default/resume")
    assert resumed.json() == {"queue": "default", "paused": False, "changed": True}
    assert (await web_client.get("/queues/default")).json()["resumed_at"] is not None

    unknown = await web_client.post("/queues/nope/pause")
    assert unknown.status_code == 404
    assert unknown.json()["detail"][0]["loc"] == ["path", "name"]
    assert (await web_client.get("/queues/nope")).status_code == 404


async def test_retry_answers_409_naming_the_state_and_404_for_an_unknown_job(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None], dramatiq_worker: None
) -> None:
    live_worker("default")
    receipt = (
        await web_client.post(
            "/jobs", json={"name": "demo.countdown", "payload": {"start": 1, "pause_s": 0}}
        )
    ).json()
    assert (await _wait_finished(web_client, receipt["job_id"]))["state"] == "succeeded"
    refused = await web_client.post(f"/jobs/{receipt['job_id']}/retry")
    assert refused.status_code == 409
    detail = refused.json()["detail"][0]
    assert (detail["loc"], detail["state"]) == (["path", "job_id"], "succeeded")
    missing = await web_client.post("/jobs/no-such-job/retry?fresh=true")
    assert missing.status_code == 404


async def test_metrics_show_each_queues_depth_workers_and_pause(
    web_client: httpx.AsyncClient, live_worker: Callable[[str], None]
) -> None:
    live_worker("default")
    await web_client.post("/queues/data_sync/pause")
    # Nothing consumes here: the job waits in the queue.
    sent = await web_client.post("/jobs", json={"name": "demo.countdown", "payload": {}})
    assert sent.json()["engine"] == "dramatiq"
    ready = await _metric(web_client, "jobrelay_queue_messages", queue="default", kind="ready")
    assert ready == 1
    assert await _metric(web_client, "jobrelay_queue_messages", queue="default", kind="dead") == 0
    live = await _metric(
        web_client, "jobrelay_queue_live_workers", queue="default", engine="dramatiq"
    )
    assert live == 1
    assert await _metric(web_client, "jobrelay_queue_paused", queue="data_sync") == 1
    assert await _metric(web_client, "jobrelay_queue_paused", queue="default") == 0
