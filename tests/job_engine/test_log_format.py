"""JSON log lines: one object per record, the job's fields at the top level."""

from __future__ import annotations

import json
import logging

import pytest
from jobrelay.job_engine import JsonLogFormatter, configure_logging


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "jobrelay.dispatcher", logging.INFO, __file__, 1, "dispatched %s", ("j1",), None
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_record_is_one_json_object_with_its_extra_fields() -> None:
    line = JsonLogFormatter().format(
        _record(job_id="j1", queue="default", engine="dramatiq", duration_ms=0.12)
    )
    assert "\n" not in line
    body = json.loads(line)
    assert body["message"] == "dispatched j1"
    assert (body["level"], body["logger"]) == ("INFO", "jobrelay.dispatcher")
    assert (body["job_id"], body["queue"], body["engine"], body["duration_ms"]) == (
        "j1",
        "default",
        "dramatiq",
        0.12,
    )
    assert "args" not in body and "msg" not in body  # the record's own attributes stay out


def test_an_exception_travels_as_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = _record()
        record.exc_info = sys.exc_info()
    body = json.loads(JsonLogFormatter().format(record))
    assert body["exc"].startswith("Traceback") and "ValueError: boom" in body["exc"]


def test_configure_logging_json_writes_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("info", "json")
        logging.getLogger("jobrelay.test").info("hello", extra={"job_id": "x"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert [json.loads(line)["job_id"] for line in lines] == ["x"]


def test_a_line_logged_within_a_traced_span_carries_its_trace_id() -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext

    span = NonRecordingSpan(SpanContext(trace_id=0xABC, span_id=0x1, is_remote=False))
    with trace.use_span(span):
        inside = json.loads(JsonLogFormatter().format(_record(job_id="j1")))
    outside = json.loads(JsonLogFormatter().format(_record(job_id="j1")))
    assert inside["trace_id"] == f"{0xABC:032x}"
    assert "trace_id" not in outside
