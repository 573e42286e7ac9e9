"""One trace per job, on both engines: the dispatch, the job and its steps.

The SDK's tracer provider is installed for these tests only, with the
in-memory exporter, and OpenTelemetry's globals are reset after them (as
OpenTelemetry's own test utilities do), so the rest of the suite runs with
tracing off, the default.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jobrelay.devservers import TemporalDevServer
from jobrelay.dispatcher import DispatcherSettings
from jobrelay.engines.temporal import TemporalAdapter, connect
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.engines.tracing import tracing_on
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util._once import Once

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any
TESTJOBS = "jobrelay_dispatch_testjobs"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    assert not tracing_on(), "tracing is off unless an application turns it on"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        # opentelemetry.test.globals_test.reset_trace_globals, which is not shipped.
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None
    assert not tracing_on()


async def _trace_of(
    exporter: InMemorySpanExporter, job_id: str, wanted: set[str], within_s: float = 30.0
) -> list[ReadableSpan]:
    """The spans of the trace whose dispatch span names ``job_id``, once ``wanted`` are in."""
    deadline = time.monotonic() + within_s
    found: list[ReadableSpan] = []
    while time.monotonic() < deadline:
        finished = exporter.get_finished_spans()
        roots = [
            s
            for s in finished
            if s.name == "jobrelay.dispatch"
            and (s.attributes or {}).get("jobrelay.job_id") == job_id
        ]
        if roots:
            trace_id = roots[0].context.trace_id
            found = [s for s in finished if s.context.trace_id == trace_id]
            if wanted <= {s.name for s in found}:
                return found
        await asyncio.sleep(0.1)
    names = sorted({s.name for s in exporter.get_finished_spans()})
    raise AssertionError(
        f"trace of {job_id} lacks {wanted - {s.name for s in found}}; all: {names}"
    )


def _one(found: list[ReadableSpan], name: str) -> ReadableSpan:
    matches = [s for s in found if s.name == name]
    assert len(matches) == 1, [s.name for s in found]
    return matches[0]


async def test_a_dramatiq_job_is_one_trace_from_dispatch_to_its_steps(
    spans: InMemorySpanExporter, stack: Stack, prefix: str
) -> None:
    stack.start_dramatiq()
    job_id = f"{prefix}traced"
    receipt = await stack.dispatcher().dispatch("dsp.ping", {}, job_id=job_id)
    assert receipt.engine == "dramatiq"
    found = await _trace_of(
        spans, job_id, {"jobrelay.dispatch", "jobrelay.job dsp.ping", "jobrelay.step run"}
    )
    dispatch = _one(found, "jobrelay.dispatch")
    job = _one(found, "jobrelay.job dsp.ping")
    step = _one(found, "jobrelay.step run")
    assert dispatch.parent is None  # the root: the dispatch starts the trace
    assert job.parent is not None and job.parent.span_id == dispatch.context.span_id
    assert step.parent is not None and step.parent.span_id == job.context.span_id
    assert (dispatch.attributes or {})["jobrelay.engine"] == "dramatiq"
    assert (job.attributes or {})["jobrelay.attempt"] == 1


async def test_a_temporal_job_is_one_trace_from_dispatch_to_its_step_activities(
    spans: InMemorySpanExporter,
    stack: Stack,
    temporal_server: TemporalDevServer,
    dsettings: DispatcherSettings,
    prefix: str,
) -> None:
    # Connected with tracing on: the client (and its worker) carry the interceptor.
    client = await connect(temporal_server.address)
    worker = make_worker(
        client, stack.queue_settings, "default", store=stack.store, job_modules=[TESTJOBS]
    )
    running = asyncio.create_task(worker.run())
    try:
        off = stack.dispatcher(
            dsettings.model_copy(update={"use_dramatiq": False}),
            temporal=TemporalAdapter(client, stack.queue_settings),
        )
        job_id = f"{prefix}ttraced"
        assert (await off.dispatch("dsp.ping", {}, job_id=job_id)).engine == "temporal"
        wanted = {
            "jobrelay.dispatch",
            "StartWorkflow:jobrelay.job",
            "RunWorkflow:jobrelay.job",
            "RunActivity:jobrelay.step",
        }
        found = await _trace_of(spans, job_id, wanted)
    finally:
        await worker.shutdown()
        await running
    dispatch = _one(found, "jobrelay.dispatch")
    start = _one(found, "StartWorkflow:jobrelay.job")
    assert start.parent is not None and start.parent.span_id == dispatch.context.span_id
    assert (dispatch.attributes or {})["jobrelay.engine"] == "temporal"


async def test_a_dispatch_over_http_continues_the_callers_trace(
    spans: InMemorySpanExporter, stack: Stack, prefix: str
) -> None:
    import httpx
    from jobrelay.web import WebSettings, create_app

    stack.start_heartbeat()  # a live worker: the job goes to Dramatiq; nothing consumes
    app = create_app(dispatcher=stack.dispatcher, settings=WebSettings(run_reconciler=False))
    caller_trace = 0x1234567890ABCDEF1234567890ABCDEF
    header = f"00-{caller_trace:032x}-{0xFEDCBA9876543210:016x}-01"
    job_id = f"{prefix}http"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://jobrelay") as client:
            response = await client.post(
                "/jobs",
                json={"name": "dsp.ping", "payload": {}, "job_id": job_id},
                headers={"traceparent": header},
            )
    assert response.status_code == 202, response.text
    found = await _trace_of(spans, job_id, {"jobrelay.dispatch", "POST /jobs"})
    # FastAPI's own server span (it traces requests itself once a provider is
    # installed) continues the caller's trace, and the dispatch sits below it.
    dispatch = _one(found, "jobrelay.dispatch")
    assert dispatch.context.trace_id == caller_trace
    by_id = {s.context.span_id: s for s in found}
    ancestors = []
    parent = dispatch.parent
    while parent is not None and parent.span_id in by_id:
        ancestors.append(by_id[parent.span_id])
        parent = by_id[parent.span_id].parent
    assert any(a.name == "POST /jobs" and a.kind is SpanKind.SERVER for a in ancestors)
