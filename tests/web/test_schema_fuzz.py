"""Schemathesis fuzzes every operation of the app's own OpenAPI schema.

The app runs under uvicorn on a real socket with a real Dispatcher on the
session's Redis and Temporal, and a Dramatiq worker, as in production. Before
the fuzzing, jobs in each state (succeeded, dead, cancelled, on Temporal), a
live worker and a dead letter exist under fixed ids, which the schema offers
as examples: the fuzzer reaches the answers for real records, not only 404s.

Every response must not be a 5xx, must conform to the schema (status code,
content type, body, headers), schema-invalid requests must be refused with a
4xx, and a 4xx must name the field at fault (``detail[i].loc``). Generation is
seeded and derandomized, so a run is repeatable.
"""

from __future__ import annotations

import copy
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobStore, QueueSettings, WorkerInfo, WorkerRegistry, redis_client
from jobrelay.web import WebSettings, create_app

from .conftest import make_dispatcher

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SUPPORT = Path(__file__).parent / "support"

# Records the fixture makes before the fuzzing, under these ids.
DONE, DEAD, CANCELLED, ON_TEMPORAL = "fuzz-done", "fuzz-dead", "fuzz-cancelled", "fuzz-temporal"
# A succeeded job for DELETE alone: the operations of one path run in turn,
# and deleting the others would leave retry and cancel only 404s.
GONE = "fuzz-gone"
WORKER = "fuzz-host:1:abc123:default"
COUNTDOWN = {"start": 1, "pause_s": 0}

# Example values per parameter name, for any operation that has one.
PARAMETER_EXAMPLES: dict[str, list[Any]] = {
    "job_id": [DONE, DEAD, CANCELLED, ON_TEMPORAL],
    "worker_id": [WORKER],
    "name": ["default", "scheduled"],
    "queue": ["default", "data_sync"],
}
DELETE_EXAMPLES: dict[str, list[Any]] = {"job_id": [GONE, ON_TEMPORAL]}
# Example bodies per component schema: real jobs, so a dispatch can succeed.
BODY_EXAMPLES: dict[str, list[Any]] = {
    "DispatchRequest": [
        {"name": "demo.countdown", "payload": COUNTDOWN},
        {"name": "demo.countdown", "payload": COUNTDOWN, "job_id": DONE},
        {"name": "demo.countdown", "payload": COUNTDOWN, "delay": 3600, "confirm": "pickup"},
        {"name": "booking.send_reminder", "payload": {"booking_id": "b1"}},
    ],
    "BatchRequest": [
        {
            "jobs": [
                {"name": "demo.countdown", "payload": COUNTDOWN},
                {"name": "demo.countdown", "payload": {"start": 0}},
                {"name": "no.such.job"},
            ]
        }
    ],
}


def _with_examples(raw: dict[str, Any]) -> dict[str, Any]:
    """The app's schema with the examples above added (constraints untouched)."""
    out = copy.deepcopy(raw)
    for operations in out["paths"].values():
        for method, operation in operations.items():
            examples = {**PARAMETER_EXAMPLES, **(DELETE_EXAMPLES if method == "delete" else {})}
            for parameter in operation.get("parameters", []):
                if parameter["name"] in examples:
                    parameter["schema"]["examples"] = examples[parameter["name"]]
    for name, bodies in BODY_EXAMPLES.items():
        component = out.get("components", {}).get("schemas", {}).get(name)
        if component is not None:
            component["examples"] = bodies
    return out


# The schema is the app's own, read without starting it (nothing connects
# until the lifespan runs), so routes added to the app are fuzzed with no
# change here. Nothing is excluded.
schema = schemathesis.openapi.from_dict(
    _with_examples(create_app().openapi()),
    # The token through schemathesis' auth, not as a plain header: it then
    # knows which requests lack it on purpose (and expects a 401 for those).
    config=schemathesis.Config.from_dict(
        {
            "seed": 20_11_11,
            "auth": {"openapi": {"HTTPBearer": {"bearer": TOKEN}}},
            "operations": [
                {
                    # Fields the schema cannot relate: a payload is checked
                    # against the model of the job it names; a page cursor is
                    # opaque (one of the schema's shape that no page returned);
                    # `until` must not be before `since`; a schedule's cron,
                    # timezone and payload are checked by the schedule and its
                    # job, and a backfill's end must follow its start. Those are
                    # refused with a 422 naming the field (names_the_field checks it).
                    "include-name": [
                        "POST /jobs",
                        "GET /jobs",
                        "POST /jobs/retry",
                        "POST /jobs/cancel",
                        "POST /schedules",
                        "PATCH /schedules/{schedule_id}",
                        "POST /schedules/{schedule_id}/backfill",
                    ],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", 401, 403, 404, 409, 422, 429]
                        }
                    },
                }
            ],
        }
    ),
)

# Schemathesis draws from `random` inside its strategies, which Hypothesis
# deprecates (a warning, an error under this suite's filterwarnings).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)


def _wait(client: httpx.Client, job_id: str, states: set[str]) -> None:
    # Bounded by the test's timeout.
    while client.get(f"/jobs/{job_id}").json().get("state") not in states:
        time.sleep(0.05)


def _seed(client: httpx.Client) -> None:
    """A succeeded, a dead, a cancelled and a Temporal-owned job, and a dead letter."""
    sent = [
        client.post("/jobs", json={"name": "demo.countdown", "payload": COUNTDOWN, "job_id": DONE}),
        client.post("/jobs", json={"name": "demo.countdown", "payload": COUNTDOWN, "job_id": GONE}),
        client.post(
            "/jobs", json={"name": "web.gated", "payload": {"key": "fuzz:never"}, "job_id": DEAD}
        ),
        client.post(
            "/jobs",
            json={
                "name": "demo.countdown",
                "payload": COUNTDOWN,
                "job_id": CANCELLED,
                "delay": 3600,
            },
        ),
        # No worker serves `scheduled`: the job goes to Temporal.
        client.post(
            "/jobs",
            json={
                "name": "booking.send_reminder",
                "payload": {"booking_id": "b1"},
                "job_id": ON_TEMPORAL,
            },
        ),
    ]
    assert [r.status_code for r in sent] == [202] * 5, [r.text for r in sent]
    assert sent[-1].json()["engine"] == "temporal"
    assert client.post(f"/jobs/{CANCELLED}/cancel").json()["cancelled"] is True
    _wait(client, DONE, {"succeeded"})
    _wait(client, GONE, {"succeeded"})
    _wait(client, DEAD, {"dead"})
    while not client.get("/dead-letters", params={"queue": "default"}).json():
        time.sleep(0.05)


@pytest.fixture(scope="module")
def base_url(redis_server: RedisServer, temporal_server: TemporalDevServer) -> Iterator[str]:
    """The app served by uvicorn on a free port; its own key prefix and task queues."""
    # The worker's heartbeat is made once and must outlive the run.
    queue_settings = QueueSettings(
        redis_url=redis_server.url, prefix=f"t{uuid.uuid4().hex[:12]}:", heartbeat_ttl_s=3600
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WEB_TEST_REDIS_URL", redis_server.url)
        patch.syspath_prepend(str(SUPPORT))
        discover_jobs(["jobrelay_web_testjobs"])
        assert "jobrelay_web_testjobs" in sys.modules
        redis_conn = redis_client(queue_settings)
        WorkerRegistry.from_settings(redis_conn, queue_settings).heartbeat(
            WorkerInfo(
                worker_id=WORKER,
                host="fuzz-host",
                pid=os.getpid(),
                queues=["default"],
                started_at=time.time(),
            )
        )
        adapter = DramatiqAdapter(
            make_broker(queue_settings, client=redis_conn),
            JobStore.from_settings(redis_conn, queue_settings),
            queue_settings,
        )
        worker = start_worker(adapter, ["default"], threads=2)
        app = create_app(
            dispatcher=make_dispatcher(queue_settings, temporal_server.address, api_token=TOKEN),
            settings=WebSettings(run_reconciler=False),
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            # Bounded by the test's timeout: a server that never starts fails there.
            while not server.started:
                assert thread.is_alive(), "uvicorn exited before serving"
                time.sleep(0.05)
            with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
                _seed(client)
            yield url
        finally:
            server.should_exit = True
            thread.join()
            sock.close()
            worker.stop()


@schemathesis.check
def names_the_field(ctx: schemathesis.CheckContext, response: Any, case: Any) -> bool | None:
    """A 4xx names the request's field at fault in ``detail[i].loc``."""
    # 401 is about the token, 405 about a method the route lacks (schemathesis
    # sends other methods on purpose): neither has a field to name.
    if not 400 <= response.status_code < 500 or response.status_code in (401, 405):
        return None
    body = response.json()
    detail = body.get("detail") if isinstance(body, dict) else None
    assert isinstance(detail, list) and detail, f"4xx without a field list: {body}"
    for item in detail:
        loc = item.get("loc") if isinstance(item, dict) else None
        assert isinstance(loc, list) and loc, f"4xx item without a loc: {body}"
        assert loc[0] in {"path", "query", "header", "body"}, f"loc names no field: {body}"
    return None


@schema.parametrize()
@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    # Every request goes to real servers: slow examples are expected.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@pytest.mark.timeout(300)
def test_api(case: schemathesis.Case[Any], base_url: str) -> None:
    case.call_and_validate(base_url=base_url, additional_checks=[names_the_field])


_DEEP = b'{"name": "demo.countdown", "payload": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001

# Requests the fuzzing found answered wrong (or, for the delays and the JSON
# Python reads but UTF-8 and strict JSON cannot hold, probes it led to), and
# the 4xx naming the field they get now. A bytes body is sent as it is.
FOUND: dict[str, tuple[str, str, Any, list[str | int]]] = {
    # Was a 400 naming nothing (FastAPI could not decode the body).
    "body not UTF-8": ("POST", "/jobs", b"\x86\xca\xa3G", ["body"]),
    # Was a 400 naming nothing (json.loads ran out of stack).
    "body nested too deep": ("POST", "/jobs", _DEEP, ["body"]),
    # Was a 500: the 422 echoing the name could not be encoded as UTF-8.
    "lone surrogate in a name": ("POST", "/jobs", b'{"name": "\\ud800"}', ["body", "name"]),
    # Was a 500: the 422 echoing NaN could not be rendered as strict JSON.
    "NaN delay": ("POST", "/jobs", b'{"name": "demo.countdown", "delay": NaN}', ["body", "delay"]),
    # Were accepted, for engines that cannot carry them.
    "lone surrogate in a payload": (
        "POST",
        "/jobs",
        b'{"name": "demo.countdown", "payload": {"x": "\\ud800"}}',
        ["body", "payload"],
    ),
    "Infinity in a payload": (
        "POST",
        "/jobs",
        b'{"name": "demo.countdown", "payload": {"a": [1, {"b": Infinity}]}}',
        ["body", "payload"],
    ),
    # Was a 503: Temporal's start delay overflowed; Dramatiq had no worker.
    "delay past a year": (
        "POST",
        "/jobs",
        {"name": "demo.countdown", "delay": 1e308},
        ["body", "delay"],
    ),
    # Was accepted as a delay of 0 s.
    "delay not a number": (
        "POST",
        "/jobs",
        {"name": "demo.countdown", "delay": False},
        ["body", "delay"],
    ),
    # Was a 422 for a value the schema allowed (it now lists the queues).
    "unknown queue filter": ("GET", "/dead-letters?queue=X9_MQ", None, ["query", "queue"]),
    # Was accepted (pydantic reads "-1e3" as a time); the schema says ISO 8601 or seconds.
    "time not ISO 8601": ("POST", "/jobs/retry?since=-1e3", None, ["query", "since"]),
    # Names and ids of no possible shape, refused before any Redis call.
    "worker id": ("GET", "/workers/a%20b", None, ["path", "worker_id"]),
    "queue name": ("POST", "/queues/a%20b/pause", None, ["path", "name"]),
    "dead letter id": ("DELETE", "/dead-letters/default/a%20b", None, ["path", "redis_id"]),
}


@pytest.mark.parametrize("found", sorted(FOUND))
def test_found_requests_name_the_field(found: str, base_url: str) -> None:
    method, url, body, loc = FOUND[found]
    with httpx.Client(base_url=base_url, headers=AUTH) as client:
        if isinstance(body, bytes):
            kwargs: dict[str, Any] = {
                "content": body,
                "headers": {"content-type": "application/json"},
            }
        else:
            kwargs = {} if body is None else {"json": body}
        response = client.request(method, url, **kwargs)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


def test_a_batch_item_past_the_longest_delay_names_its_field(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers=AUTH) as client:
        body = {"jobs": [{"name": "demo.countdown", "delay": 1e308}]}
        response = client.post("/jobs/batch", json=body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["results"]
    assert item["error"]["status"] == 422
    assert item["error"]["detail"][0]["loc"] == ["body", "jobs", 0, "delay"]


def test_a_405_allows_every_method_of_the_path(base_url: str) -> None:
    # Starlette named only the methods of the first route of the path (POST).
    with httpx.Client(base_url=base_url, headers=AUTH) as client:
        response = client.request("OPTIONS", "/jobs")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


# Routes the schema leaves out (the dashboard, /metrics), so schemathesis does
# not reach them: odd requests of each kind, none of which may be a 5xx.
_FORM: dict[str, str | bytes] = {"content-type": "application/x-www-form-urlencoded"}
OUTSIDE_THE_SCHEMA: list[tuple[str, str, bytes | None, dict[str, str | bytes]]] = [
    ("GET", "/metrics", None, {}),
    ("GET", "/ui", None, {}),
    ("GET", "/ui/", None, {"cookie": b"jobrelay_session=9999999999.\xff"}),
    ("GET", "/ui/", None, {"cookie": "jobrelay_session=" + "1" * 5000}),
    ("GET", "/ui/static/..%2F..%2Fpyproject.toml", None, {}),
    ("GET", "/ui/static/" + "a" * 5000 + ".js", None, {}),
    ("GET", "/ui/static/%00.css", None, {}),
    ("POST", "/ui/session", b"token=%ff%fe%00", _FORM),
    ("POST", "/ui/session", b"\xff\xfe" * 100, _FORM),
    ("POST", "/ui/session", b"token=a&" * 10_000, {}),
    ("POST", "/ui/session", b'{"token": "\\ud800"}', {"content-type": "application/json"}),
    ("POST", "/ui/signout", None, {"cookie": "jobrelay_session=\x01"}),
    ("GET", "/ui/session", None, {"authorization": b"Bearer \xe9\xff"}),
]


@pytest.mark.parametrize(
    ("method", "url", "body", "headers"),
    OUTSIDE_THE_SCHEMA,
    ids=[f"{r[0]} {r[1][:40]}" for r in OUTSIDE_THE_SCHEMA],
)
def test_routes_outside_the_schema_never_answer_5xx(
    method: str, url: str, body: bytes | None, headers: dict[str, str | bytes], base_url: str
) -> None:
    with httpx.Client(base_url=base_url) as client:
        raw = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in headers.items()}
        response = client.request(method, url, content=body, headers=raw)
    assert response.status_code < 500, response.text
