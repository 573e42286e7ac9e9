"""Log lines for people (``text``) or for a log pipeline (``json``: one object per line).

Every jobrelay log call that concerns a job passes ``extra={"job_id": ...}``
(and the queue, engine, reason... where it knows them); the JSON form keeps
those as top-level keys, so a pipeline can follow one job across the
dispatcher, both engines' workers and the web app. The applications choose
the form from ``JOBRELAY_LOG_FORMAT``; this module reads no environment.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, Literal

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"

# The attributes every LogRecord has: anything else came in through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, process, the ``extra``
    fields (``job_id``, ``queue``, ``engine``...), the ``trace_id`` when the line is
    logged within a traced span, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        trace_id = _current_trace_id()
        if trace_id is not None:
            out.setdefault("trace_id", trace_id)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _current_trace_id() -> str | None:
    """The trace the logging code runs in (tracing on), as OpenTelemetry spells its ids."""
    try:
        from opentelemetry import trace
    except ImportError:  # this package does not require OpenTelemetry; the engines do
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def configure_logging(level: str, form: LogFormat = "text") -> None:
    """Send every log record to stderr at ``level``, as text or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
