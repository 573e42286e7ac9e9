"""The ``jobrelay`` CLI through the real engines: dispatch from a file, and the operator's
commands over HTTP to a served web app, as tables and as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import set_default_dispatcher
from jobrelay.queue import JobStore, QueueSettings, redis_client
from jobrelay.web.cli import app
from typer.testing import CliRunner


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch,
    queue_settings: QueueSettings,
    temporal_server: TemporalDevServer,
) -> Iterator[None]:
    """The CLI's settings come from the environment, as in a shell; Temporal only."""
    monkeypatch.setenv("REDIS_URL", queue_settings.redis_url)
    monkeypatch.setenv("JOBRELAY_PREFIX", queue_settings.prefix)
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_server.address)
    monkeypatch.setenv("USE_DRAMATIQ", "false")
    monkeypatch.setenv("JOBRELAY_MAX_BATCH_SIZE", "2")  # three batches for five jobs
    set_default_dispatcher(None)
    yield
    set_default_dispatcher(None)


def _jobs_file(tmp_path: Path, prefix: str) -> Path:
    lines = [json.dumps({"key": f"{prefix}{n}", "start": 1, "pause_s": 0}) for n in range(5)]
    lines[1:1] = ["{not json", "[1, 2]", "", json.dumps({"key": f"{prefix}bad", "start": 0})]
    lines.append(json.dumps({"start": 1}))
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_file_is_dispatched_line_by_line_and_again_without_duplicates(
    environment: None, tmp_path: Path, prefix: str, queue_settings: QueueSettings
) -> None:
    path = _jobs_file(tmp_path, prefix)
    runner = CliRunner()
    args = ["dispatch", "demo.countdown", "--from-file", str(path), "--id-field", "key"]

    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 1, first.output  # some lines failed
    results = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    failed = {r["line"]: r["error"] for r in results if "error" in r}
    assert set(failed) == {2, 3, 5, 10}
    assert failed[2].startswith("not JSON")
    assert failed[3] == "not a JSON object"
    assert failed[5].startswith("InvalidPayload") and "start" in failed[5]
    assert "'key'" in failed[10]
    sent = [r for r in results if "error" not in r]
    assert [r["job_id"] for r in sent] == [f"{prefix}{n}" for n in range(5)]
    assert {(r["engine"], r["reason"], r["deduplicated"]) for r in sent} == {
        ("temporal", "flag_off", False)
    }
    store = JobStore.from_settings(redis_client(queue_settings), queue_settings)
    assert all(store.get(r["job_id"]) is not None for r in sent)

    again = runner.invoke(app, args)
    assert again.exit_code == 1
    # The table: every job found already dispatched, and the same four bad lines.
    assert "5 of 9 dispatched" in again.stdout
    assert "temporal" in again.stdout and "yes" in again.stdout
    assert [line for line in again.stdout.splitlines() if line.startswith("line ")] == [
        f"line {n}: {failed[n]}" for n in (2, 3, 5, 10)
    ]


def test_from_file_refuses_single_job_options(environment: None, tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text("{}\n")
    result = CliRunner().invoke(
        app, ["dispatch", "demo.countdown", "--from-file", str(path), "--job-id", "x"]
    )
    assert result.exit_code == 2
    assert "--from-file" in result.output


def test_an_unknown_job_is_an_error_line_not_a_stack_trace(environment: None) -> None:
    result = CliRunner().invoke(app, ["dispatch", "no.such.job"])
    assert result.exit_code == 1
    assert "UnknownJob" in result.output
    assert "Traceback" not in result.output


def test_operator_commands_show_tables_json_and_pause_and_resume(
    web_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JOBRELAY_URL", web_url)
    monkeypatch.setenv("JOBRELAY_DEV_DIR", str(tmp_path))  # no dev stack here
    runner = CliRunner()
    table = runner.invoke(app, ["queues"])
    assert table.exit_code == 0, table.output
    assert "default" in table.stdout and "data_sync" in table.stdout
    as_json = runner.invoke(app, ["queues", "--json"])
    assert {q["name"] for q in json.loads(as_json.stdout)} == {"default", "data_sync", "scheduled"}

    assert runner.invoke(app, ["pause", "default"]).stdout.strip() == "default: paused"
    assert "already" in runner.invoke(app, ["pause", "default"]).stdout
    paused = {
        q["name"]: q["paused"] for q in json.loads(runner.invoke(app, ["queues", "--json"]).stdout)
    }
    assert paused == {"default": True, "data_sync": False, "scheduled": False}
    assert runner.invoke(app, ["resume", "default"]).stdout.strip() == "default: running"

    workers_table = runner.invoke(app, ["workers"])
    assert workers_table.exit_code == 0 and "live workers" in workers_table.stdout
    workers = runner.invoke(app, ["workers", "--json"])
    assert workers.exit_code == 0 and set(json.loads(workers.stdout)) == {
        "default",
        "data_sync",
        "scheduled",
    }

    dead = runner.invoke(app, ["dead", "--queue", "data_sync"])
    assert dead.exit_code == 0 and "dead letters of data_sync: 0" in dead.stdout
    assert json.loads(runner.invoke(app, ["dead", "--json"]).stdout) == []

    no_job = runner.invoke(app, ["retry", "nope", "--fresh"])
    assert no_job.exit_code == 1
    assert no_job.output.strip() == "error: OpsError: 404: no job with id 'nope'"

    unknown = runner.invoke(app, ["pause", "nope"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "error: OpsError: 404: unknown queue 'nope'"


def test_an_unreachable_web_app_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from jobrelay.devservers import free_port

    monkeypatch.setenv("JOBRELAY_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("JOBRELAY_DEV_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["queues"])
    assert result.exit_code == 1
    assert result.output.startswith("error: OpsError: cannot reach the web app at http://")
    assert len(result.output.strip().splitlines()) == 1


def _post(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    import httpx

    response = httpx.post(url + path, json=body, timeout=10)
    assert response.status_code == 202, response.text
    answer: dict[str, object] = response.json()
    return answer


def _wait_state(url: str, job_id: str, states: set[str]) -> str:
    import time as _time

    import httpx

    deadline = _time.monotonic() + 30
    state = ""
    while _time.monotonic() < deadline:
        state = str(httpx.get(f"{url}/jobs/{job_id}", timeout=10).json()["state"])
        if state in states:
            return state
        _time.sleep(0.1)
    raise AssertionError(f"{job_id} is {state}")


def test_job_commands_list_show_summarise_retry_and_cancel(
    web_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    gated_job: object,
    live_worker: Callable[[str], None],
    dramatiq_worker: None,
    prefix: str,
    redis_server: RedisServer,
) -> None:
    monkeypatch.setenv("JOBRELAY_URL", web_url)
    monkeypatch.setenv("JOBRELAY_DEV_DIR", str(tmp_path))
    live_worker("default")
    failing = [
        str(
            _post(web_url, "/jobs", {"name": "web.gated", "payload": {"key": f"{prefix}{i}"}})[
                "job_id"
            ]
        )
        for i in range(2)
    ]
    ok = str(
        _post(web_url, "/jobs", {"name": "demo.countdown", "payload": {"start": 1, "pause_s": 0}})[
            "job_id"
        ]
    )
    finished = {"succeeded", "failed", "dead", "cancelled"}
    failed_state = {_wait_state(web_url, job_id, finished) for job_id in failing}.pop()
    assert _wait_state(web_url, ok, finished) == "succeeded"
    runner = CliRunner()

    table = runner.invoke(app, ["jobs"])
    assert table.exit_code == 0, table.output
    assert "jobs: 3" in table.stdout and all(job_id in table.stdout for job_id in [*failing, ok])
    listed = json.loads(runner.invoke(app, ["jobs", "--state", failed_state, "--json"]).stdout)
    assert [item["job_id"] for item in listed["items"]] == list(reversed(failing))
    first = runner.invoke(app, ["jobs", "--limit", "1"])
    assert "more: --cursor " in first.stdout
    cursor = first.stdout.split("more: --cursor ")[1].split()[0]
    second = json.loads(
        runner.invoke(app, ["jobs", "--limit", "1", "--cursor", cursor, "--json"]).stdout
    )
    assert [item["job_id"] for item in second["items"]] == [failing[1]]
    bad = runner.invoke(app, ["jobs", "--state", "bogus"])
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1
    assert bad.output.startswith("error: OpsError: 422: state: ")

    shown = runner.invoke(app, ["job", failing[0]])
    assert shown.exit_code == 0 and f"job {failing[0]}" in shown.stdout
    assert "web.gated" in shown.stdout and failed_state in shown.stdout
    assert json.loads(runner.invoke(app, ["job", ok, "--json"]).stdout)["result"] == {
        "counted": [1]
    }
    missing = runner.invoke(app, ["job", "nope"])
    assert (
        missing.exit_code == 1
        and missing.output.strip() == "error: OpsError: 404: no job with id 'nope'"
    )

    summary = runner.invoke(app, ["summary"])
    assert summary.exit_code == 0 and "jobrelay: ready" in summary.stdout
    states = json.loads(runner.invoke(app, ["summary", "--json"]).stdout)["states"]
    assert (states["succeeded"], states[failed_state]) == (1, 2)

    unbounded = runner.invoke(app, ["retry"])
    assert unbounded.exit_code == 2 and "--all" in unbounded.output
    import redis as _redis

    with _redis.Redis.from_url(redis_server.url) as r:
        for i in range(2):
            r.set(f"{prefix}{i}:ok", "1")
    bulk = runner.invoke(app, ["retry", "--name", "web.gated"])
    assert bulk.exit_code == 0, bulk.output
    assert bulk.stdout.strip() == "2 retried, 0 skipped, 0 failed of 2 matched"
    for job_id in failing:
        assert _wait_state(web_url, job_id, finished) == "succeeded"
    again = runner.invoke(app, ["retry", "--name", "web.gated"])
    assert again.stdout.strip() == "0 retried, 0 skipped, 0 failed of 0 matched"

    later = [
        str(
            _post(
                web_url, "/jobs", {"name": "demo.countdown", "payload": {"start": 1}, "delay": 600}
            )["job_id"]
        )
        for _ in range(3)
    ]
    one = runner.invoke(app, ["cancel", later[0]])
    assert one.stdout.strip() == f"{later[0]}: cancel requested"
    rest = runner.invoke(app, ["cancel", "--state", "queued"])
    assert rest.stdout.strip() == "2 cancelled, 0 skipped, 0 failed of 2 matched"
    assert {_wait_state(web_url, job_id, finished) for job_id in later} == {"cancelled"}

    urgent = _post(
        web_url,
        "/jobs",
        {"name": "demo.countdown", "payload": {"start": 1}, "delay": 600, "priority": "high"},
    )
    detail = runner.invoke(app, ["job", str(urgent["job_id"])])
    assert "priority 1" in detail.stdout, detail.stdout


def test_schedule_commands_as_tables_and_json(
    web_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JOBRELAY_URL", web_url)
    monkeypatch.setenv("JOBRELAY_DEV_DIR", str(tmp_path))
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "schedules", "add", "nightly", "--job", "demo.countdown", "--cron", "0 3 * * *",
            "--tz", "Europe/Paris", "--payload", '{"start": 2}',
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "schedule nightly (runtime)" in added.stdout and "Europe/Paris" in added.stdout

    table = runner.invoke(app, ["schedules", "list"])
    assert "schedules: 1" in table.stdout and "cron 0 3 * * *" in table.stdout
    listed = json.loads(runner.invoke(app, ["schedules", "list", "--json"]).stdout)
    assert [v["schedule"]["id"] for v in listed] == ["nightly"]
    shown = json.loads(runner.invoke(app, ["schedules", "show", "nightly", "--json"]).stdout)
    assert shown["schedule"]["payload"] == {"start": 2} and len(shown["next_ticks"]) == 3

    changed = runner.invoke(app, ["schedules", "set", "nightly", '{"cron": "0 4 * * *"}', "--json"])
    assert json.loads(changed.stdout)["schedule"]["cron"] == "0 4 * * *"
    assert runner.invoke(app, ["schedules", "pause", "nightly"]).stdout.strip() == "nightly: paused"
    assert (
        runner.invoke(app, ["schedules", "resume", "nightly"]).stdout.strip() == "nightly: running"
    )

    fired = runner.invoke(app, ["schedules", "trigger", "nightly"])
    assert fired.exit_code == 0 and fired.stdout.startswith("schedule:nightly:")
    backfill = runner.invoke(
        app,
        [
            "schedules",
            "backfill",
            "nightly",
            "--start",
            "2026-01-01T00:00:00",
            "--end",
            "2026-01-03T23:59:00",
        ],
    )
    assert backfill.stdout.strip() == "3 fired, 0 had fired before", backfill.output

    bad = runner.invoke(
        app, ["schedules", "add", "broken", "--job", "demo.countdown", "--cron", "61 * * * *"]
    )
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1
    assert bad.output.startswith("error: OpsError: 422: cron: ")
    no_zone = runner.invoke(
        app,
        [
            "schedules",
            "add",
            "x",
            "--job",
            "demo.countdown",
            "--every",
            "5",
            "--tz",
            "Nowhere/Land",
        ],
    )
    assert no_zone.output.startswith("error: OpsError: 422: tz: unknown timezone")
    missing = runner.invoke(app, ["schedules", "show", "nope"])
    assert missing.output.strip() == "error: OpsError: 404: no schedule with id 'nope'"
    assert (
        runner.invoke(app, ["schedules", "delete", "nightly"]).stdout.strip() == "nightly: deleted"
    )
    assert json.loads(runner.invoke(app, ["schedules", "list", "--json"]).stdout) == []
