"""The dashboard at /ui in headless Chromium, against the real app and a real Dramatiq worker.

Debian's chromium (``.ci/run`` installs it) driven by playwright; no browser is
downloaded. Each test saves a screenshot of every page it visits under its
``tmp_path`` and in ``test-output/screenshots/`` (ignored by git) for a human.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis
import uvicorn
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.engines.dramatiq import make_broker
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import QueueSettings, WorkerRegistry, redis_client
from jobrelay.web import WebSettings, create_app
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    async_playwright,
    expect,
)

from .conftest import make_dispatcher

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SUPPORT = Path(__file__).parent / "support"
WORKER_BIN = str(Path(sys.executable).parent / "jobrelay-worker")
TOKEN = "dashboard-s3cret"
# Waits that only catch something that never happens (a loaded machine is slow).
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium (Debian's chromium package; .ci/run installs it as root)",
    ),
    pytest.mark.timeout(300),
]


@pytest.fixture
def gated_job(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    monkeypatch.setenv("WEB_TEST_REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs(["jobrelay_web_testjobs"])
    return sys.modules["jobrelay_web_testjobs"]


@pytest.fixture
def flow_job(gated_job: ModuleType) -> ModuleType:
    """``web.limited`` (one at a time per key, a rate, a uniqueness window) known to the app."""
    discover_jobs(["jobrelay_web_flowjobs"])
    return sys.modules["jobrelay_web_flowjobs"]


@pytest.fixture
def worker(
    queue_settings: QueueSettings,
    redis_server: RedisServer,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> Iterator[None]:
    """``jobrelay-worker run -q default`` as a subprocess, heartbeating; stopped at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "PYTEST_"))}
    env.update(
        REDIS_URL=queue_settings.redis_url,
        JOBRELAY_PREFIX=queue_settings.prefix,
        JOBRELAY_JOB_MODULES="jobrelay_web_testjobs,jobrelay_web_flowjobs",
        PYTHONPATH=os.pathsep.join(filter(None, [str(SUPPORT), env.get("PYTHONPATH")])),
        WEB_TEST_REDIS_URL=redis_server.url,
        TEMPORAL_ADDRESS=temporal_server.address,
        WORKER_HEARTBEAT_INTERVAL_S="0.5",
        WORKER_HOST_RECONCILER="false",
        WORKER_STATUS_DIR=str(tmp_path / "status"),
        WORKER_CONCURRENCY="default=2",
        PYTHONUNBUFFERED="1",
    )
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen(
            [WORKER_BIN, "run", "-q", "default"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        registry = WorkerRegistry.from_settings(redis_client(queue_settings), queue_settings)
        deadline = time.monotonic() + 60
        while not registry.live_workers("default"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the worker never beat:\n" + (tmp_path / "worker.log").read_text())
            time.sleep(0.1)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
async def base_url(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer, gated_job: ModuleType
) -> AsyncIterator[str]:
    """The app behind a real HTTP server (uvicorn on a free port), wanting ``TOKEN``."""
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address, api_token=TOKEN),
        settings=WebSettings(run_reconciler=False),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # the startup error
                pytest.fail("uvicorn stopped before it started")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        yield client


@dataclass
class Tab:
    """A browser page, with what it asked for and every error it logged."""

    page: Page
    base_url: str
    shots: Path
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<status> <path>" of answers >= 400

    async def shot(self, name: str) -> None:
        path = self.shots / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        # A copy where a human finds it after the run (ignored by git).
        keep = ROOT / "test-output" / "screenshots"
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, keep / path.name)

    async def sign_in(self) -> None:
        await self.page.goto(f"{self.base_url}/ui")
        await self.page.fill("#token", TOKEN)
        await self.page.click("button[type=submit]")
        await expect(self.page.locator("main#view h2").first).to_have_text(
            "Overview", timeout=WAIT_MS
        )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def tab(browser: Browser, base_url: str, tmp_path: Path) -> AsyncIterator[Tab]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    found = Tab(page, base_url, shots)
    page.on("request", lambda request: found.requests.append(request.url))
    page.on("pageerror", lambda error: found.errors.append(f"page error: {error}"))
    page.on("console", lambda message: _console(found, message))
    page.on("response", lambda answer: _refused(found, answer))
    try:
        yield found
    finally:
        await context.close()


def _console(tab: Tab, message: ConsoleMessage) -> None:
    # Chromium logs every answer >= 400 as an error too: those are in ``refused``.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        tab.errors.append(f"console: {message.text}")


def _refused(tab: Tab, answer: Response) -> None:
    if answer.status >= 400:
        tab.refused.append(f"{answer.status} {urlsplit(answer.url).path}")


async def _dispatch(
    api: httpx.AsyncClient,
    job_id: str,
    payload: dict[str, Any],
    name: str = "web.gated",
    engine: str = "dramatiq",
    priority: str | int | None = None,
) -> None:
    body: dict[str, Any] = {"name": name, "payload": payload, "job_id": job_id}
    if priority is not None:
        body["priority"] = priority
    answer = await api.post("/jobs", json=body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["engine"] == engine, answer.json()


async def _state(api: httpx.AsyncClient, job_id: str, *want: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = (await api.get(f"/jobs/{job_id}")).json()
        if job.get("state") in want:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id} is {job.get('state')}, never {want}")


async def test_the_token_guards_the_dashboard(tab: Tab, base_url: str) -> None:
    page = tab.page
    answer = await page.goto(f"{base_url}/ui")
    assert answer is not None and answer.status == 401
    assert page.url == f"{base_url}/ui/"
    await expect(page.locator("#token")).to_be_visible()
    await tab.shot("sign-in")

    async with httpx.AsyncClient(base_url=base_url) as anonymous:
        # The sign-in page's stylesheet holds no data; the page and its scripts do.
        assert (await anonymous.get("/ui/static/style.css")).status_code == 200
        assert (await anonymous.get("/ui/static/app.js")).status_code == 401
        assert (await anonymous.get("/ui/static/../auth.py")).status_code == 404
        assert (await anonymous.get("/queues")).status_code == 401

    await page.fill("#token", "not-the-token")
    await page.click("button[type=submit]")
    await expect(page.locator(".error")).to_have_text("That is not the API token.")
    assert not await page.context.cookies()
    await tab.shot("sign-in-refused")

    await tab.sign_in()
    [cookie] = await page.context.cookies()
    assert cookie["name"] == "jobrelay_session"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert TOKEN not in cookie["value"]
    # The API takes the cookie in place of the bearer token (same origin).
    assert await page.evaluate("fetch('/queues').then(r => r.status)") == 200
    async with httpx.AsyncClient(base_url=base_url) as client:
        signed = {"Cookie": f"jobrelay_session={cookie['value']}"}
        assert (await client.get("/queues", headers=signed)).status_code == 200
        forged = {"Cookie": "jobrelay_session=9999999999.0000"}
        assert (await client.get("/queues", headers=forged)).status_code == 401

    await page.click("#signout button")
    await expect(page.locator("#token")).to_be_visible()
    assert not await page.context.cookies()
    assert all(url.startswith(base_url) for url in tab.requests), tab.requests
    assert tab.errors == [], tab.errors
    # Only the sign-in form itself answered 401 (the page shows it for /ui/ and a wrong token).
    assert set(tab.refused) == {"401 /ui/", "401 /ui/session"}, tab.refused


async def test_an_operator_finds_a_failed_job_and_retries_it(
    tab: Tab,
    worker: None,
    api: httpx.AsyncClient,
    base_url: str,
    redis_server: RedisServer,
    queue_settings: QueueSettings,
    prefix: str,
) -> None:
    run = uuid.uuid4().hex[:6]
    passing = [f"ok-{run}-{i}" for i in range(3)]
    failing = f"fails-{run}"
    lettered = f"letter-{run}"
    gates = redis.Redis.from_url(redis_server.url)
    for job_id in passing:
        gates.set(f"{prefix}{job_id}:ok", 1)
        await _dispatch(api, job_id, {"key": f"{prefix}{job_id}"})
    await _dispatch(api, failing, {"key": f"{prefix}{failing}"})
    await _dispatch(api, lettered, {"key": f"{prefix}{lettered}"})
    # data_sync has no worker: this one falls back to Temporal (and waits there).
    fell_back = f"far-{run}"
    await _dispatch(api, fell_back, {"calendar_id": "c1"}, "calendar.sync", "temporal")
    # A message no job wrote: the worker buries it as undecodable.
    make_broker(queue_settings).do_enqueue("default", str(uuid.uuid4()), b"\x00not json{")
    for job_id in passing:
        await _state(api, job_id, "succeeded")
    failed_state = (await _state(api, failing, "failed", "dead"))["state"]
    await _state(api, lettered, "failed", "dead")

    page = tab.page
    await tab.sign_in()

    # Overview: engines, workers, each queue with its chart, pause and resume.
    default = page.locator("section.queue[data-queue=default]")
    await expect(default).to_be_visible()
    await expect(page.locator("section[data-engine=dramatiq] h3 .badge")).to_have_text("ready")
    await expect(page.locator("table.workers tbody tr")).to_have_count(1)
    await expect(default.locator("svg.chart")).to_have_count(1)
    await expect(page.locator(".chart-missing")).to_have_count(0)
    # 1 of the 6 jobs went to Temporal, for want of a data_sync worker.
    await expect(page.locator("#fallback .big")).to_contain_text("17% of 6 dispatches")
    await expect(page.locator("#fallback .legend")).to_contain_text("no live worker: 1")
    await expect(page.locator("#states")).to_contain_text("succeeded3")
    await default.locator("button[data-action=pause]").click()
    await expect(default.locator("h3 .badge")).to_have_text("paused", timeout=WAIT_MS)
    assert (await api.get("/queues/default")).json()["paused"] is True
    await tab.shot("overview-paused")
    await default.locator("button[data-action=resume]").click()
    await expect(default.locator("h3 .badge")).to_have_text("active", timeout=WAIT_MS)
    assert (await api.get("/queues/default")).json()["paused"] is False
    await tab.shot("overview")

    # Jobs: filter to the failed ones of web.gated.
    await page.click("nav a[data-route=jobs]")
    rows = page.locator("#job-list tbody tr[data-job]")
    await expect(rows.first).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator(f"tr[data-job='{passing[0]}']")).to_have_count(1)
    await tab.shot("jobs")
    await page.select_option("#job-filters select[name=state]", failed_state)
    await page.fill("#job-filters input[name=name]", "web.gated")
    await page.click("#job-filters button[type=submit]")
    await expect(page.locator(f"tr[data-job='{passing[0]}']")).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator(f"tr[data-job='{failing}']")).to_have_count(1)
    others = page.locator(f"#job-list tr[data-job]:not([data-state={failed_state}])")
    await expect(others).to_have_count(0)
    assert f"state={failed_state}" in page.url
    filtered = page.url
    await tab.shot("jobs-filtered")

    # Paging: two at a time through the five web.gated jobs of the default queue, and back.
    await page.goto(f"{base_url}/ui/#/jobs?name=web.gated&queue=default&limit=2")
    await expect(page.locator("#job-filters select[name=limit]")).to_have_value("2")
    everything = sorted([*passing, failing, lettered])
    seen: list[str] = []
    firsts: list[str] = []
    for _ in range(len(everything)):
        await expect(rows.first).to_be_visible(timeout=WAIT_MS)
        page_ids = [await row.get_attribute("data-job") or "" for row in await rows.all()]
        assert page_ids and not set(page_ids) & set(seen), (page_ids, seen)
        seen += page_ids
        firsts.append(page_ids[0])
        more = page.locator("button[data-action=next-page]")
        if len(seen) >= len(everything) or await more.is_disabled():
            break
        await more.click()
        await expect(rows.first).not_to_have_attribute("data-job", page_ids[0])
    assert sorted(seen) == everything
    assert len(firsts) >= 3
    await page.click("button[data-action=previous-page]")
    await expect(rows.first).to_have_attribute("data-job", firsts[-2])
    await tab.shot("jobs-paged")
    await page.goto(filtered)

    # The failed job: its attempt and step, then retry once its gate is open.
    await page.click(f"tr[data-job='{failing}'] a")
    title = page.locator("main#view .title h2 .badge")
    await expect(title).to_have_text(failed_state, timeout=WAIT_MS)
    await expect(page.locator("pre.error-box")).to_contain_text("not allowed yet")
    await expect(page.locator("button[data-action=cancel]")).to_be_disabled()
    attempts = page.locator("table.attempts tbody tr[data-attempt]")
    await expect(attempts).to_have_count(1)
    await expect(attempts.first).to_contain_text("not allowed yet")
    await expect(page.locator("svg.timeline rect.span")).to_have_count(1)
    gate_step = page.locator("table.steps tr[data-step=gate]")
    await expect(gate_step.locator(".badge")).to_have_text("failed")
    await tab.shot("job-failed")
    gates.set(f"{prefix}{failing}:ok", 1)
    await page.click("button[data-action=retry]")
    await expect(page.locator("#flash .flash.ok")).to_contain_text("Retried")
    await expect(title).to_have_text("succeeded", timeout=WAIT_MS)
    await expect(page.locator("#job-result")).to_have_text('"passed"')
    await expect(page.locator("button[data-action=retry]")).to_be_disabled()
    # The second attempt joins the first on the timeline; the step ran again and passed.
    await expect(attempts).to_have_count(2)
    await expect(attempts.last).to_have_attribute("data-outcome", "succeeded")
    await expect(page.locator("svg.timeline rect.span")).to_have_count(2)
    await expect(gate_step.locator(".badge")).to_have_text("succeeded")
    await expect(gate_step).to_contain_text('"passed"')
    await tab.shot("job-succeeded")
    assert (await api.get(f"/jobs/{failing}")).json()["state"] == "succeeded"

    # Dead letters: the failed job's went with its retry. "Retry all" retries the
    # other job's (which then succeeds) and leaves the undecodable one, saying why.
    await page.click("nav a[data-route=dead]")
    letters = page.locator("#dead-letters tbody tr[data-letter]")
    await expect(letters).to_have_count(2, timeout=WAIT_MS)
    listed = (await api.get("/dead-letters?queue=default")).json()
    assert sorted(str(letter["job_id"]) for letter in listed) == sorted([lettered, "None"])
    await tab.shot("dead-letters")
    gates.set(f"{prefix}{lettered}:ok", 1)
    await page.click("button[data-action=retry-all]")
    warned = page.locator("#flash .flash.warn")
    await expect(warned).to_contain_text("Retried 1; 1 left", timeout=WAIT_MS)
    await expect(warned).to_contain_text("not a job")
    await expect(letters).to_have_count(1, timeout=WAIT_MS)
    await _state(api, lettered, "succeeded")
    # Only a letter without a job is left: nothing to retry, it can be purged.
    await expect(page.locator("button[data-action=retry-all]")).to_be_disabled()
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.locator("button[data-action=purge]").click()
    await expect(letters).to_have_count(0, timeout=WAIT_MS)
    assert (await api.get("/dead-letters?queue=default")).json() == []
    await tab.shot("dead-letters-after")

    # The job that fell back: its Temporal workflow, waiting for a Temporal worker
    # (data_sync has none).
    await page.goto(f"{base_url}/ui/#/job/{fell_back}")
    await expect(title).to_have_text("queued", timeout=WAIT_MS)
    fields = page.locator("dl.fields")
    await expect(fields).to_contain_text("Temporal workflow")
    await expect(fields).to_contain_text(fell_back)
    await expect(fields).to_contain_text("no_live_worker")
    await tab.shot("job-temporal")

    # Cancel: a job that waits (an hour's delay) stops at once, no worker involved.
    later = f"later-{run}"
    answer = await api.post(
        "/jobs",
        json={"name": "web.gated", "payload": {"key": later}, "job_id": later, "delay": 3600},
    )
    assert answer.status_code == 202, answer.text
    await page.goto(f"{base_url}/ui/#/job/{later}")
    await expect(title).to_have_text("queued", timeout=WAIT_MS)
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("button[data-action=cancel]")
    await expect(title).to_have_text("cancelled", timeout=WAIT_MS)
    await expect(page.locator("#flash .flash.ok")).to_contain_text("Cancelled.")
    await expect(page.locator("button[data-action=retry]")).to_be_enabled()
    await tab.shot("job-cancelled")
    assert (await api.get(f"/jobs/{later}")).json()["state"] == "cancelled"

    assert all(url.startswith(base_url) for url in tab.requests), [
        url for url in tab.requests if not url.startswith(base_url)
    ]
    assert tab.errors == [], tab.errors
    # Nothing the dashboard asked for was refused or missing, bar the sign-in form.
    assert tab.refused == ["401 /ui/"], tab.refused


async def test_an_operator_adds_fires_pauses_backfills_and_deletes_schedules(
    tab: Tab,
    worker: None,
    api: httpx.AsyncClient,
    base_url: str,
    redis_server: RedisServer,
    prefix: str,
) -> None:
    run = uuid.uuid4().hex[:6]
    nightly = f"nightly-{run}"
    often = f"often-{run}"
    key = f"{prefix}sched-{run}"
    # Every job the schedules fire passes its gate.
    redis.Redis.from_url(redis_server.url).set(f"{key}:ok", 1)

    page = tab.page
    await tab.sign_in()
    await page.click("nav a[data-route=schedules]")
    await expect(page.locator("main#view h2").first).to_have_text("Schedules")
    await expect(page.locator("nav a.active")).to_have_attribute("data-route", "schedules")
    await expect(page.locator("#schedule-list td.empty")).to_have_count(1)
    form = page.locator("#add-schedule")
    submit = form.locator("button[type=submit]")

    # A cron of four fields: the API's 422 shows next to the cron, and nothing is added.
    await form.locator("input[name=id]").fill(nightly)
    await form.locator("select[name=job]").select_option("web.gated")
    await form.locator("input[name=cron]").fill("0 3 * *")
    await form.locator("input[name=tz]").fill("Europe/Paris")
    await form.locator("textarea[name=payload]").fill(json.dumps({"key": key}))
    await submit.click()
    await expect(form.locator("[data-error-for=cron]")).to_contain_text("five fields")
    await expect(form.locator("input[name=cron]")).to_have_attribute("aria-invalid", "true")
    assert (await api.get(f"/schedules/{nightly}")).status_code == 404
    await tab.shot("schedules-refused")

    # A payload the job refuses: the error moves to the payload.
    await form.locator("input[name=cron]").fill("0 3 * * *")
    await form.locator("textarea[name=payload]").fill("{}")
    await submit.click()
    await expect(form.locator("[data-error-for=payload]")).to_contain_text("key")
    await expect(form.locator("[data-error-for=cron]")).to_be_empty()
    await expect(form.locator("input[name=cron]")).not_to_have_attribute("aria-invalid", "true")
    assert (await api.get(f"/schedules/{nightly}")).status_code == 404

    await form.locator("textarea[name=payload]").fill(json.dumps({"key": key}))
    await submit.click()
    row = page.locator(f"#schedule-list tr[data-schedule='{nightly}']")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#flash .flash.ok")).to_contain_text(f"Added {nightly}")
    await expect(row.locator("td").nth(2)).to_have_text("0 3 * * * Europe/Paris")
    await expect(row.locator("ol.ticks li")).to_have_count(3)
    await expect(row).to_have_attribute("data-source", "runtime")
    # The form is empty again for the next one.
    await expect(form.locator("input[name=id]")).to_have_value("")
    await expect(form.locator("input[name=tz]")).to_have_value("UTC")
    made = (await api.get(f"/schedules/{nightly}")).json()
    assert made["source"] == "runtime" and made["paused"] is False
    assert made["schedule"]["tz"] == "Europe/Paris"
    assert made["schedule"]["payload"] == {"key": key}

    # Every 2 s (a bare number is seconds): the app's scheduler fires it, and the
    # row shows its last firing and that firing's job.
    await form.locator("input[name=id]").fill(often)
    await form.locator("select[name=job]").select_option("web.gated")
    await form.locator("input[name=every]").fill("2")
    await form.locator("textarea[name=payload]").fill(json.dumps({"key": key}))
    await submit.click()
    often_row = page.locator(f"#schedule-list tr[data-schedule='{often}']")
    await expect(often_row).to_have_count(1, timeout=WAIT_MS)
    await expect(often_row.locator("td").nth(2)).to_have_text("every 2 s")
    assert (await api.get(f"/schedules/{often}")).json()["schedule"]["every"] == "PT2S"
    last_job = often_row.locator("td.last a.job-link")
    await expect(last_job).to_have_count(1, timeout=WAIT_MS)
    assert (await last_job.get_attribute("data-job") or "").startswith(f"schedule:{often}:")
    await expect(often_row.locator("td.last .badge")).to_have_count(1)
    await expect(often_row.locator("time")).to_have_count(1)

    # Pause, then resume.
    await often_row.locator("button[data-action=pause]").click()
    await expect(often_row).to_have_attribute("data-paused", "true", timeout=WAIT_MS)
    await expect(often_row.locator("td.paused")).to_have_text("paused")
    await expect(often_row.locator("td.next")).to_have_text("paused")
    assert (await api.get(f"/schedules/{often}")).json()["paused"] is True
    await often_row.locator("button[data-action=resume]").click()
    await expect(often_row).to_have_attribute("data-paused", "false", timeout=WAIT_MS)
    await expect(often_row.locator("ol.ticks li")).to_have_count(3)
    assert (await api.get(f"/schedules/{often}")).json()["paused"] is False

    # Trigger: the message links the fired job, which runs.
    await row.locator("button[data-action=trigger]").click()
    fired = page.locator("#flash .flash.ok a.job-link")
    await expect(fired).to_have_count(1, timeout=WAIT_MS)
    job_id = await fired.get_attribute("data-job") or ""
    assert job_id.startswith(f"schedule:{nightly}:")
    await tab.shot("schedules")
    await fired.click()
    await expect(page.locator("main#view .title h2 code")).to_have_text(job_id, timeout=WAIT_MS)
    await expect(page.locator("main#view .title h2 .badge")).to_have_text(
        "succeeded", timeout=WAIT_MS
    )
    await tab.shot("schedule-triggered-job")
    assert (await api.get(f"/jobs/{job_id}")).json()["name"] == "web.gated"

    # Its own page: the rule, the firings, and a backfill.
    await page.goto(f"{base_url}/ui/#/schedule/{nightly}")
    await expect(page.locator("main#view .title h2 code")).to_have_text(nightly, timeout=WAIT_MS)
    await expect(page.locator("nav a.active")).to_have_attribute("data-route", "schedules")
    await expect(page.locator("dl.fields").first).to_contain_text("Europe/Paris")
    await expect(page.locator("#firings ol.ticks li")).to_have_count(3)
    backfill = page.locator("#backfill")
    now = datetime.now()  # datetime-local is the browser's local time, as this is
    minute = "%Y-%m-%dT%H:%M"
    await backfill.locator("input[name=start]").fill((now - timedelta(days=1)).strftime(minute))
    await backfill.locator("input[name=end]").fill((now - timedelta(days=2)).strftime(minute))
    await backfill.locator("button[type=submit]").click()
    await expect(backfill.locator("[data-error-for=end]")).to_contain_text("after start")
    await backfill.locator("input[name=start]").fill((now - timedelta(days=3)).strftime(minute))
    await backfill.locator("input[name=end]").fill(now.strftime(minute))
    await backfill.locator("button[type=submit]").click()
    firings = page.locator("#backfill-result tr[data-tick]")
    await expect(firings.first).to_be_visible(timeout=WAIT_MS)
    await expect(backfill.locator("[data-error-for=end]")).to_be_empty()
    # Three days hold two to four 03:00s in Paris (a clock change makes a day 23 or 25 h).
    count = await firings.count()
    assert 2 <= count <= 4, count
    await expect(page.locator("#backfill-result tr[data-new=true]")).to_have_count(count)
    await expect(page.locator("#flash .flash.ok")).to_contain_text(
        f"{count} fired, 0 had fired before"
    )
    first = await firings.first.locator("a.job-link").get_attribute("data-job") or ""
    assert first.startswith(f"schedule:{nightly}:")
    assert (await api.get(f"/jobs/{first}")).status_code == 200
    await tab.shot("schedule-backfilled")
    # The same stretch again: every tick had fired, none runs twice.
    await backfill.locator("button[type=submit]").click()
    await expect(page.locator("#backfill-result tr[data-new=false]")).to_have_count(
        count, timeout=WAIT_MS
    )
    await expect(page.locator("#flash .flash.ok")).to_contain_text(
        f"0 fired, {count} had fired before"
    )

    # Delete the run-time one that fires every 2 s, from the list.
    await page.click("main#view a[href='#/schedules']")
    await expect(often_row).to_have_count(1, timeout=WAIT_MS)
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await often_row.locator("button[data-action=delete]").click()
    await expect(often_row).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#flash .flash.ok")).to_contain_text(f"Deleted {often}")
    await expect(row).to_have_count(1)
    assert (await api.get(f"/schedules/{often}")).status_code == 404
    await tab.shot("schedules-after-delete")

    assert all(url.startswith(base_url) for url in tab.requests), [
        url for url in tab.requests if not url.startswith(base_url)
    ]
    assert tab.errors == [], tab.errors
    # Refused: the sign-in form, and the three answers the test asked for.
    assert tab.refused == [
        "401 /ui/",
        "422 /schedules",
        "422 /schedules",
        f"422 /schedules/{nightly}/backfill",
    ], tab.refused


async def test_priorities_show_on_the_queue_card_and_the_job_page(
    tab: Tab, api: httpx.AsyncClient, base_url: str, prefix: str
) -> None:
    """No worker, the queue paused: the jobs wait in their priority lanes on Dramatiq."""
    assert (await api.post("/queues/default/pause")).json()["paused"] is True
    run = uuid.uuid4().hex[:6]
    urgent, usual, later = f"urgent-{run}", f"usual-{run}", f"later-{run}"
    await _dispatch(api, urgent, {"key": f"{prefix}{urgent}"}, priority="high")
    await _dispatch(api, usual, {"key": f"{prefix}{usual}"})
    await _dispatch(api, later, {"key": f"{prefix}{later}"}, priority="low")
    await _dispatch(api, f"{later}-2", {"key": f"{prefix}{later}-2"}, priority=5)
    assert (await api.get("/queues/default")).json()["ready_by_priority"] == {
        "1": 1,
        "3": 1,
        "5": 2,
    }

    page = tab.page
    await tab.sign_in()
    lanes = page.locator("section.queue[data-queue=default] .lanes")
    await expect(lanes.locator(".lane")).to_have_count(3)
    await expect(lanes.locator(".lane[data-priority='1']")).to_have_text("1 high")
    await expect(lanes.locator(".lane[data-priority='3']")).to_have_text("1 normal")
    await expect(lanes.locator(".lane[data-priority='5']")).to_have_text("2 low")
    # One lane only (or none) says nothing the ready count does not: no line.
    await expect(page.locator("section.queue[data-queue=data_sync] .lanes")).to_have_count(0)
    # web.gated declares no limit: no queue lists it under flow control (jobs of
    # other tests loaded in this process, such as web.limited, may be listed).
    await expect(page.locator("section.queue .flow", has_text="web.gated")).to_have_count(0)
    await tab.shot("overview-priorities")

    title = page.locator("main#view .title h2 .badge")
    fields = page.locator("dl.fields").first
    await page.goto(f"{base_url}/ui/#/job/{urgent}")
    await expect(title).to_have_text("queued", timeout=WAIT_MS)
    await expect(fields.locator("[data-priority]")).to_have_text("high (1)")
    await expect(page.locator("#job-flow")).to_have_count(0)
    await tab.shot("job-priority-high")
    await page.goto(f"{base_url}/ui/#/job/{usual}")
    await expect(page.locator("main#view .title h2 code")).to_have_text(usual, timeout=WAIT_MS)
    await expect(fields.locator("[data-priority]")).to_have_text("normal (3)")

    assert tab.errors == [], tab.errors
    assert tab.refused == ["401 /ui/"], tab.refused


async def test_a_job_waiting_for_its_slot_shows_its_limits_on_its_page_and_its_queue(
    tab: Tab,
    flow_job: ModuleType,
    worker: None,
    api: httpx.AsyncClient,
    base_url: str,
    redis_server: RedisServer,
    prefix: str,
) -> None:
    run = uuid.uuid4().hex[:6]
    key = f"{prefix}cal-{run}"
    holder, waiter = f"holder-{run}", f"waiter-{run}"
    # The first holds the key's one slot until its gate opens; the second waits for it.
    await _dispatch(api, holder, {"key": key, "ref": f"a-{run}"}, "web.limited")
    await _state(api, holder, "running")
    await _dispatch(api, waiter, {"key": key, "ref": f"b-{run}"}, "web.limited", priority="high")
    deadline = time.monotonic() + 60
    while (await api.get(f"/jobs/{waiter}")).json()["flow"]["waiting_for"] != "slot":
        assert time.monotonic() < deadline, (await api.get(f"/jobs/{waiter}")).json()
        await asyncio.sleep(0.1)

    page = tab.page
    await tab.sign_in()
    flow_row = page.locator(
        "section.queue[data-queue=default] .flow li[data-flow-job='web.limited']"
    )
    await expect(flow_row).to_have_count(1)
    limits = flow_row.locator(".limits")
    await expect(limits).to_have_text(
        "at most 1 at a time per key · 600 starts a minute in all · unique for 5 min per ref"
    )
    # Waiting counts a job until its next look, so some refresh finds it waiting.
    await expect(flow_row.locator(".waiting")).to_have_text("1 waiting for a slot", timeout=WAIT_MS)
    await expect(flow_row.locator(".throttled")).to_have_text("0 throttled")
    await tab.shot("overview-flow")

    await page.goto(f"{base_url}/ui/#/job/{waiter}")
    title = page.locator("main#view .title h2 .badge")
    await expect(title).to_have_text("queued", timeout=WAIT_MS)
    await expect(page.locator("dl.fields [data-priority]")).to_have_text("high (1)")
    flow = page.locator("#job-flow")
    await expect(flow).to_contain_text("waiting for a slot")
    await expect(flow).to_contain_text(f"at most 1 at a time for key {key}")
    await expect(flow).to_contain_text("600 starts a minute over all jobs of its name")
    await expect(flow).to_contain_text(f"one job within 5 min of the first for key b-{run}")
    await tab.shot("job-waiting-for-slot")

    # The gate opens: the holder ends, the waiter takes the slot and runs; no wait shows.
    redis.Redis.from_url(redis_server.url).set(f"{key}:ok", 1)
    await expect(title).to_have_text("succeeded", timeout=WAIT_MS)
    await expect(flow).not_to_contain_text("waiting")
    await expect(flow).to_contain_text(f"at most 1 at a time for key {key}")
    await tab.shot("job-flow-succeeded")
    assert (await _state(api, holder, "succeeded"))["result"] == "released"

    assert tab.errors == [], tab.errors
    assert tab.refused == ["401 /ui/"], tab.refused
