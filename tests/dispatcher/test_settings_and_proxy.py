"""Settings, the two-variable proxy gate, and dispatch over real HTTP to a stand-in web app."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from jobrelay.devservers import free_port
from jobrelay.dispatcher import (
    DispatchConfigurationError,
    Dispatcher,
    DispatcherSettings,
    DispatchProxy,
    DispatchProxyError,
    DispatchUnavailable,
    InvalidPayload,
    JobNotFound,
    PayloadTooLarge,
    UnknownJob,
    build_dispatcher,
)
from jobrelay.job_engine import get_job

TOKEN = "s3cret"


def test_defaults_run_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("USE_DRAMATIQ", "TEMPORAL_ADDRESS", "USE_DISPATCH_PROXY", "DISPATCH_PROXY_URL"):
        monkeypatch.delenv(var, raising=False)
    settings = DispatcherSettings()
    assert settings.use_dramatiq is True
    assert settings.temporal_address == "127.0.0.1:7233"
    assert settings.temporal_namespace == "default"
    assert settings.max_payload_bytes == 256 * 1024
    assert settings.proxy_enabled is False


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USE_DRAMATIQ", "false")
    monkeypatch.setenv("PICKUP_TIMEOUT_MS", "750")
    monkeypatch.setenv("PICKUP_DEADLINE_S", "12")
    monkeypatch.setenv("JOBRELAY_MAX_PAYLOAD_BYTES", "1024")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "jobs")
    settings = DispatcherSettings()
    assert (settings.use_dramatiq, settings.pickup_timeout_s, settings.pickup_deadline_s) == (
        False,
        0.75,
        12,
    )
    assert (settings.max_payload_bytes, settings.temporal_namespace) == (1024, "jobs")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"USE_DISPATCH_PROXY": "true"}, "needs DISPATCH_PROXY_URL"),
        ({"DISPATCH_PROXY_URL": "http://web:8000"}, "USE_DISPATCH_PROXY is not true"),
        ({"USE_DISPATCH_PROXY": "true", "DISPATCH_PROXY_URL": "web:8000"}, "http://"),
    ],
)
def test_half_set_proxy_gate_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    monkeypatch.delenv("USE_DISPATCH_PROXY", raising=False)
    monkeypatch.delenv("DISPATCH_PROXY_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(DispatchConfigurationError, match=needle):
        DispatcherSettings()


class _WebApp(BaseHTTPRequestHandler):
    """A stand-in for the web app's job API, backed by a real Dispatcher."""

    dispatcher: Dispatcher
    seen: list[dict[str, Any]]

    def log_message(self, *_: Any) -> None:
        pass

    def _reply(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self._reply(401, {"detail": "bad token"})
        return False

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path.endswith("/cancel"):
            job_id = self.path.split("/")[2]
            try:
                cancelled = asyncio.run(self.dispatcher.cancel(job_id))
            except JobNotFound:
                return self._reply(404, {"detail": "no such job"})
            return self._reply(200, {"cancelled": cancelled})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        if body["name"] == "dsp.unavailable":
            return self._reply(503, {"detail": "both down"}, {"Retry-After": "7"})
        try:
            receipt = asyncio.run(
                self.dispatcher.dispatch(
                    body["name"],
                    body["payload"],
                    job_id=body["job_id"],
                    delay=body["delay"],
                    confirm=body["confirm"],
                )
            )
        except UnknownJob as exc:
            return self._reply(404, {"detail": str(exc)})
        except InvalidPayload as exc:
            return self._reply(422, {"detail": [{**e, "loc": list(e["loc"])} for e in exc.errors]})
        return self._reply(202, receipt.model_dump(mode="json"))

    def do_GET(self) -> None:
        if not self._authorised():
            return
        try:
            # As the web app: the detail, which the proxy also reads as a status.
            detail = asyncio.run(self.dispatcher.get_detail(self.path.split("/")[2]))
        except JobNotFound:
            return self._reply(404, {"detail": "no such job"})
        self._reply(200, detail.model_dump(mode="json"))


@pytest.fixture
def web_app(mem_dispatcher: Dispatcher) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_WebApp,), {"dispatcher": mem_dispatcher, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def proxy(
    web_app: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> DispatchProxy:
    monkeypatch.setenv("USE_DISPATCH_PROXY", "true")
    monkeypatch.setenv("DISPATCH_PROXY_URL", web_app[0])
    monkeypatch.setenv("JOBRELAY_API_TOKEN", TOKEN)
    built = build_dispatcher(discover=False)
    assert isinstance(built, DispatchProxy)
    return built


async def test_dispatch_status_and_cancel_over_http(
    proxy: DispatchProxy, web_app: tuple[str, list[dict[str, Any]]]
) -> None:
    payload_model = get_job("dsp.ping").payload_model
    assert payload_model is not None
    receipt = await proxy.dispatch("dsp.ping", payload_model(n=5), job_id="h1", delay=1.5)
    assert (receipt.job_id, receipt.engine, receipt.reason) == ("h1", "temporal", "no_live_worker")
    assert web_app[1][0] == {
        "name": "dsp.ping",
        "payload": {"n": 5, "note": ""},
        "job_id": "h1",
        "delay": 1.5,
        "confirm": "admission",
    }
    again = await proxy.dispatch("dsp.ping", {"n": 5}, job_id="h1")
    assert again.deduplicated is True
    status = await proxy.get_status("h1")
    assert (status.job_id, status.name, status.engine) == ("h1", "dsp.ping", "temporal")
    detail = await proxy.get_detail("h1")
    assert (detail.job_id, detail.payload) == ("h1", {"n": 5, "note": ""})
    with pytest.raises(JobNotFound):
        await proxy.get_detail("nope")
    assert await proxy.cancel("h1") is True
    with pytest.raises(JobNotFound):
        await proxy.get_status("nope")
    await proxy.aclose()


async def test_proxy_errors_map_to_dispatch_errors(
    proxy: DispatchProxy, web_app: tuple[str, list[dict[str, Any]]]
) -> None:
    with pytest.raises(InvalidPayload, match="order_id"):
        await proxy.dispatch("dsp.order", {"email": "a@b.c"})  # refused before any request
    with pytest.raises(PayloadTooLarge):
        await proxy.dispatch("dsp.ping", {"note": "x" * 300_000})
    assert web_app[1] == []
    with pytest.raises(UnknownJob):
        await proxy.dispatch("not.here", {})  # unknown locally: the web app says 404
    with pytest.raises(DispatchUnavailable) as info:
        await proxy.dispatch("dsp.unavailable", {})
    assert info.value.retry_after_s == 7
    await proxy.aclose()


async def test_bad_token_and_unreachable_proxy(web_app: tuple[str, list[dict[str, Any]]]) -> None:
    wrong = DispatchProxy(web_app[0], token="wrong", max_payload_bytes=1000)
    with pytest.raises(DispatchProxyError, match="401"):
        await wrong.dispatch("dsp.ping", {})
    await wrong.aclose()
    gone = DispatchProxy(f"http://127.0.0.1:{free_port()}", token=TOKEN, max_payload_bytes=1000)
    with pytest.raises(DispatchUnavailable):
        await gone.dispatch("dsp.ping", {})
    await gone.aclose()
