"""RQ: a plain function; workers are a pool of SimpleWorkers (no fork per job)."""

from __future__ import annotations

from touch_common import touch


def rq_touch(i: int, t: float) -> None:
    touch(i, t)
