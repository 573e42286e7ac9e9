"""OpenTelemetry for jobs on both engines: off until the application installs a tracer provider.

One trace follows a job: the dispatch span (``jobrelay.dispatch``), then on
Dramatiq a span per attempt (``jobrelay.job <name>``, its parent carried in
the message's options as W3C trace context) and one per step
(``jobrelay.step <id>``); on Temporal the SDK's ``TracingInterceptor`` spans
(start, workflow run, each step's activity), its context carried in
Temporal's headers. Nothing here runs, and no message changes, while the
tracer provider is OpenTelemetry's default no-op one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

TRACE_OPTION = "jobrelay_trace"
"""The Dramatiq message option that carries the dispatch's trace context."""


def tracer() -> trace.Tracer:
    """jobrelay's tracer from the current provider (looked up each time, never cached:
    a provider installed later, or replaced in tests, is the one used)."""
    return trace.get_tracer("jobrelay")


def tracing_on() -> bool:
    """Whether the application installed a tracer provider (``JOBRELAY_TRACING``).

    Asked on every dispatch: ``trace.get_tracer_provider()`` looks the
    environment up each time no provider is set (about 1.3 us, a percent of
    a dispatch), so the module's provider slot, which its setter fills
    (and OpenTelemetry's own test helpers reset), is read directly.
    """
    return getattr(trace, "_TRACER_PROVIDER", None) is not None


def current_carrier() -> dict[str, str]:
    """The current span's context as W3C headers, for a message; empty when off or no span."""
    if not tracing_on():
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def start_job_span(
    name: str, job_id: str, attempt: int, queue: str, carrier: Mapping[str, str] | None
) -> Span | None:
    """The span of one attempt of a job, child of the dispatch that sent it; None when off."""
    if not tracing_on():
        return None
    parent = propagate.extract(dict(carrier or {}))
    return tracer().start_span(
        f"jobrelay.job {name}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "jobrelay.job_id": job_id,
            "jobrelay.job_name": name,
            "jobrelay.attempt": attempt,
            "jobrelay.queue": queue,
            "jobrelay.engine": "dramatiq",
        },
    )


@contextmanager
def use_span(span: Span | None) -> Iterator[None]:
    """Make ``span`` the current one in this thread for the block (nothing when None)."""
    if span is None:
        yield
        return
    with trace.use_span(
        span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    ):
        yield


def span_context(span: Span | None) -> otel_context.Context | None:
    """A context whose current span is ``span``: the parent for the job's steps."""
    return None if span is None else trace.set_span_in_context(span)


def start_step_span(step_id: str, job_id: str, parent: otel_context.Context | None) -> Span | None:
    """The span of one step run (not of a step found finished); None when off."""
    if parent is None:
        return None
    return tracer().start_span(
        f"jobrelay.step {step_id}",
        context=parent,
        attributes={"jobrelay.job_id": job_id, "jobrelay.step_id": step_id},
    )


def end_span(span: Span | None, error: BaseException | None = None, **attributes: Any) -> None:
    """End ``span`` (if any), marked failed with ``error`` when there is one."""
    if span is None:
        return
    if attributes:
        span.set_attributes(attributes)
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
    span.end()


def configure_tracing(service_name: str) -> None:
    """Install the SDK's tracer provider, exporting spans over OTLP (the ``OTEL_*`` settings).

    For the applications, when ``JOBRELAY_TRACING`` is on; call it before any
    Temporal client connects (the client's tracing interceptor is chosen
    then). ``OTEL_SERVICE_NAME`` wins over ``service_name``. The SDK and the
    exporter are the applications' dependencies, imported here.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
