"""Typed errors to HTTP answers: the field at fault, never a stack trace.

The same mapping answers a request that failed and describes a failed item
of a batch (``POST /jobs/batch``), whose fields sit under ``body.jobs.<i>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jobrelay.dispatcher import (
    DispatchUnavailable,
    InvalidDispatch,
    InvalidPayload,
    JobNotFound,
    JobNotRetryable,
    PayloadTooLarge,
    StatusUnavailable,
    UnknownJob,
)
from jobrelay.job_engine import JobrelayError

Loc = Sequence[str | int]


def _detail(loc: Loc, msg: str, type_: str) -> list[dict[str, object]]:
    return [{"loc": list(loc), "msg": msg, "type": type_}]


def problem(exc: JobrelayError, body: Loc = ("body",)) -> tuple[int, dict[str, Any]]:
    """The status and JSON body for ``exc``; ``body`` is where the request's fields sit."""
    if isinstance(exc, InvalidPayload):
        detail = [
            {
                "loc": [*body, "payload", *e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors
        ]
        return 422, {"type": "invalid_payload", "detail": detail}
    if isinstance(exc, InvalidDispatch):
        return 422, {
            "type": "invalid_dispatch",
            "detail": _detail([*body, *exc.loc], exc.message, "invalid"),
        }
    if isinstance(exc, UnknownJob):
        return 404, {
            "type": "unknown_job",
            "detail": _detail([*body, "name"], str(exc), "unknown_job"),
        }
    if isinstance(exc, PayloadTooLarge):
        return 413, {
            "type": "too_large",
            "detail": _detail([*body, "payload"], str(exc), "too_large"),
        }
    if isinstance(exc, JobNotRetryable):
        detail = _detail(["path", "job_id"], str(exc), "not_retryable")
        detail[0]["state"] = exc.state
        return 409, {"type": "not_retryable", "detail": detail}
    if isinstance(exc, JobNotFound):
        return 404, {
            "type": "not_found",
            "detail": _detail(["path", "job_id"], str(exc), "not_found"),
        }
    if isinstance(exc, (DispatchUnavailable, StatusUnavailable)):
        return 503, {"type": "unavailable", "detail": str(exc)}
    return 500, {"type": "error", "detail": str(exc)}


async def _answer(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobrelayError)
    status, body = problem(exc)
    headers = None
    if status == 503:
        retry_after = getattr(exc, "retry_after_s", 5.0)
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    # The single-request answers keep FastAPI's shape: {"detail": ...}.
    return JSONResponse({"detail": body["detail"]}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    for error in (
        InvalidPayload,
        InvalidDispatch,
        UnknownJob,
        PayloadTooLarge,
        JobNotFound,
        JobNotRetryable,
        DispatchUnavailable,
        StatusUnavailable,
    ):
        app.add_exception_handler(error, _answer)
