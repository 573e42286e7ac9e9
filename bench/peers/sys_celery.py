"""Celery: Redis broker, no result backend, the threads pool (see peers.py)."""

from __future__ import annotations

from celery import Celery
from touch_common import URL, touch

app = Celery("peers", broker=URL)
app.conf.update(
    task_default_queue="peers",
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=4,
)


@app.task(name="peers.touch")
def celery_touch(i: int, t: float) -> None:
    touch(i, t)
