"""Dramatiq messages built by the dispatcher, so record and message go in one round trip.

``DramatiqAdapter.enqueue`` costs a round trip of its own after the record was
written; here the dispatcher builds the very message ``enqueue`` would send
and ``Ledger.admit`` writes it into the broker's keys (the layout of
dramatiq's ``brokers/redis/dispatch.lua`` "enqueue": ``HSET {ns}:{queue}.msgs
id data`` then ``RPUSH {ns}:{queue} id``) in the script that creates the record.
Delayed messages still go through ``DramatiqAdapter.enqueue``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import dramatiq
from jobrelay.job_engine import get_job
from jobrelay.queue import get_queue

from .adapters.base import EngineJob
from .adapters.dramatiq import DramatiqAdapter, actor_name
from .adapters.dramatiq.messages import message_options
from .ledger import QueuedMessage


class DramatiqMessages:
    """Builds the message ``DramatiqAdapter.enqueue`` would send for an undelayed job."""

    def __init__(self, adapter: DramatiqAdapter) -> None:
        self.adapter = adapter
        self._namespace = adapter.broker.namespace
        # Options depend only on the job definition: computing them per
        # dispatch would cost a noticeable share of the whole dispatch.
        self._options: dict[str, dict[str, Any]] = {}

    def __call__(self, job: EngineJob, delay_s: float | None) -> QueuedMessage | None:
        """The message for ``job``; None when it must take the adapter's own path."""
        if delay_s:
            return None
        options = self._options.get(job.name)
        if options is None:
            options = message_options(get_job(job.name), get_queue(job.queue))
            # Declares the queue on the broker, as sending through the actor would.
            self.adapter.actor(job.queue)
            self._options[job.name] = options
        # The fields of dramatiq's Message, encoded with its global encoder
        # (JSON, set by make_broker) as Message.encode would, minus the cost of
        # building the dataclass. One id serves as message id and broker id:
        # both only need to be unique, and a retry gets a new broker id.
        message_id = os.urandom(16).hex()
        data = dramatiq.get_encoder().encode(
            {
                "queue_name": job.queue,
                "actor_name": actor_name(job.queue),
                "args": [job.job_id, job.name, job.payload],
                "kwargs": {},
                "options": {**options, "redis_message_id": message_id},
                "message_id": message_id,
                "message_timestamp": int(time.time() * 1000),
            }
        )
        queue_key = f"{self._namespace}:{job.queue}"
        return QueuedMessage(
            queue_key=queue_key,
            messages_key=f"{queue_key}.msgs",
            message_id=message_id,
            data=data,
        )
