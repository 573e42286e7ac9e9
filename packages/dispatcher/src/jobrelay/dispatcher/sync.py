"""Blocking forms of the module-level functions, for code that is not async.

They run on one private event loop in a daemon thread, so they work the same
whether or not the calling thread has a loop of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from .api import cancel_job, dispatch_job, dispatch_many, get_job_detail, get_job_status
from .models import BatchResult, Confirm, DispatchReceipt, JobDetail, JobRequest, JobStatus

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    global _loop
    with _lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(
                target=_loop.run_forever, name="jobrelay-dispatch-sync", daemon=True
            ).start()
    return asyncio.run_coroutine_threadsafe(coro, _loop).result()


def dispatch_job_sync(
    name: str,
    payload: Any,
    *,
    job_id: str | None = None,
    delay: timedelta | float | None = None,
    confirm: Confirm = "admission",
    priority: str | int | None = None,
) -> DispatchReceipt:
    """Blocking :func:`dispatch_job`."""
    return _run(
        dispatch_job(name, payload, job_id=job_id, delay=delay, confirm=confirm, priority=priority)
    )


def dispatch_many_sync(jobs: Iterable[JobRequest | Mapping[str, Any]]) -> list[BatchResult]:
    """Blocking :func:`dispatch_many`."""
    return _run(dispatch_many(jobs))


def get_job_status_sync(job_id: str) -> JobStatus:
    """Blocking :func:`get_job_status`."""
    return _run(get_job_status(job_id))


def get_job_detail_sync(job_id: str) -> JobDetail:
    """Blocking :func:`get_job_detail`."""
    return _run(get_job_detail(job_id))


def cancel_job_sync(job_id: str) -> bool:
    """Blocking :func:`cancel_job`."""
    return _run(cancel_job(job_id))
