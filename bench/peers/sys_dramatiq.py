"""Bare Dramatiq: its Redis broker and a sync actor, no jobrelay."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from touch_common import URL, touch

broker = RedisBroker(url=URL)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="peers", max_retries=0)
def dramatiq_touch(i: int, t: float) -> None:
    touch(i, t)
