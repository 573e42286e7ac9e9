"""Typed errors to HTTP answers: the field at fault, never a stack trace.

The same mapping answers a request that failed and describes a failed item
of a batch (``POST /jobs/batch``), whose fields sit under ``body.jobs.<i>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from jobrelay.dispatcher import (
    DispatchUnavailable,
    IndexUnavailable,
    InvalidCursor,
    InvalidDispatch,
    InvalidPayload,
    InvalidQuery,
    JobNotFound,
    JobNotRemovable,
    JobNotRetryable,
    PayloadTooLarge,
    StatusUnavailable,
    UnknownJob,
)
from jobrelay.job_engine import JobrelayError
from jobrelay.scheduler import InvalidSchedule, ScheduleConflict, ScheduleNotFound
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

Loc = Sequence[str | int]


class FieldProblem(BaseModel):
    """One field at fault: where it sits in the request (``["path", "job_id"]``), and why."""

    # Some problems carry more (a retry's 409 has the job's ``state``).
    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Every error answer: the fields at fault, or a sentence when no field is (401, 503)."""

    detail: list[FieldProblem] | str


_WHY = {
    401: "Missing or wrong bearer token",
    404: "Not found: the field names the unknown id or name",
    409: "Conflict with the resource's state",
    413: "Payload too large",
    422: "Invalid request: the fields at fault",
    503: "No engine (or Redis) can answer now; see Retry-After",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the error answers ``codes`` as :class:`Problem`."""
    return {code: {"model": Problem, "description": _WHY[code]} for code in codes}


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
    if isinstance(exc, JobNotRemovable):
        detail = _detail(["path", "job_id"], str(exc), "not_finished")
        detail[0]["state"] = exc.state
        return 409, {"type": "not_finished", "detail": detail}
    if isinstance(exc, InvalidQuery):
        return 422, {
            "type": "invalid_query",
            "detail": _detail(["query", exc.field], exc.message, "invalid"),
        }
    if isinstance(exc, InvalidCursor):
        return 422, {
            "type": "invalid_query",
            "detail": _detail(["query", "cursor"], str(exc), "invalid_cursor"),
        }
    if isinstance(exc, InvalidSchedule):
        detail = [
            {"loc": [*body, *e.get("loc", ())], "msg": e.get("msg", ""), "type": "invalid"}
            for e in exc.errors
        ]
        return 422, {"type": "invalid_schedule", "detail": detail}
    if isinstance(exc, ScheduleNotFound):
        return 404, {
            "type": "not_found",
            "detail": _detail(["path", "schedule_id"], str(exc), "not_found"),
        }
    if isinstance(exc, ScheduleConflict):
        return 409, {
            "type": "conflict",
            "detail": _detail(["path", "schedule_id"], str(exc), "conflict"),
        }
    if isinstance(exc, JobNotFound):
        return 404, {
            "type": "not_found",
            "detail": _detail(["path", "job_id"], str(exc), "not_found"),
        }
    if isinstance(exc, (DispatchUnavailable, StatusUnavailable, IndexUnavailable)):
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
    return SafeJSONResponse({"detail": body["detail"]}, status_code=status, headers=headers)


class SafeJSONResponse(JSONResponse):
    """A JSON answer that renders whatever a request put in it.

    An error echoes the input at fault, and JSON text can carry what UTF-8
    and strict JSON cannot: a lone surrogate (``"\\ud800"``), or ``NaN``
    (Python's json reads both). Those were 500s; they are escaped instead
    (``"\\ud800"`` as written, ``"NaN"`` as a string).
    """

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except (UnicodeEncodeError, ValueError):
            return super().render(_printable(content))


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    return value


async def _invalid(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's own answer, rendered so that the input it echoes cannot fail it.
    return SafeJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers a body it cannot decode (not UTF-8, nested past the
    # parser's depth) with a bare 400 naming nothing; the body is the field
    # at fault, as for any other JSON error (422). Only body parsing raises a
    # 400 from another exception.
    if exc.status_code == 400 and exc.__cause__ is not None:
        msg = f"the body is not JSON text this API reads: {exc.__cause__}"
        return SafeJSONResponse({"detail": _detail(["body"], msg, "json_invalid")}, status_code=422)
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette's Allow names the methods of the one route it tried, not of the path.
        given = (headers or {}).get("Allow", "")
        headers = {**(headers or {}), "Allow": ", ".join(_methods_of(request, given))}
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    return SafeJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


def _methods_of(request: Request, given: str) -> list[str]:
    """The methods of the app's schema at the request's path (else Starlette's ``given``).

    Read from the schema (built once, then cached by FastAPI), whatever the
    nesting of the routers; routes left out of the schema keep Starlette's.
    """
    path = request.scope.get("path", "")
    matched = [
        (template.count("{"), item)
        for template, item in request.app.openapi().get("paths", {}).items()
        if compile_path(template)[0].match(path)
    ]
    # As OpenAPI matches: a concrete path before a templated one
    # (/jobs/batch is not /jobs/{job_id}).
    if not matched:  # a route left out of the schema
        return sorted({m.strip() for m in given.split(",") if m.strip()})
    fewest = min(params for params, _ in matched)
    methods = {
        key.upper()
        for params, item in matched
        if params == fewest
        for key in item
        if key.upper() in _METHODS
    }
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    for error in (
        InvalidPayload,
        InvalidDispatch,
        UnknownJob,
        PayloadTooLarge,
        JobNotFound,
        JobNotRetryable,
        JobNotRemovable,
        InvalidQuery,
        InvalidCursor,
        DispatchUnavailable,
        StatusUnavailable,
        IndexUnavailable,
        InvalidSchedule,
        ScheduleNotFound,
        ScheduleConflict,
    ):
        app.add_exception_handler(error, _answer)
