"""Typed errors to HTTP answers: the field at fault, never a stack trace."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jobrelay.dispatcher import (
    DispatchUnavailable,
    InvalidPayload,
    JobNotFound,
    PayloadTooLarge,
    StatusUnavailable,
    UnknownJob,
)


def _detail(loc: list[str | int], msg: str, type_: str) -> list[dict[str, object]]:
    return [{"loc": loc, "msg": msg, "type": type_}]


async def _invalid_payload(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidPayload)
    detail = [
        {
            "loc": ["body", "payload", *e.get("loc", ())],
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _unknown_job(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": _detail(["body", "name"], str(exc), "unknown_job")}, 404)


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": _detail(["body", "payload"], str(exc), "too_large")}, 413)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": _detail(["path", "job_id"], str(exc), "not_found")}, 404)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    retry_after = getattr(exc, "retry_after_s", 5.0)
    return JSONResponse(
        {"detail": str(exc)},
        status_code=503,
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(InvalidPayload, _invalid_payload)
    app.add_exception_handler(UnknownJob, _unknown_job)
    app.add_exception_handler(PayloadTooLarge, _too_large)
    app.add_exception_handler(JobNotFound, _not_found)
    app.add_exception_handler(DispatchUnavailable, _unavailable)
    app.add_exception_handler(StatusUnavailable, _unavailable)
