"""Dramatiq messages built by the dispatcher, so record and message go in one round trip.

``DramatiqAdapter.enqueue`` costs a round trip of its own after the record was
written; here the dispatcher builds the very message ``enqueue`` would send
and ``Ledger.admit`` writes it into the broker's keys (the layout of
dramatiq's ``brokers/redis/dispatch.lua`` "enqueue": ``HSET {ns}:{queue}.msgs
id data`` then ``RPUSH {ns}:{queue} id``) in the script that creates the record.
Delayed messages still go through ``DramatiqAdapter.enqueue``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import dramatiq
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import PRIORITY_OPTION, DramatiqAdapter, DramatiqKeys, actor_name
from jobrelay.engines.dramatiq.messages import message_args, message_options
from jobrelay.engines.tracing import TRACE_OPTION, current_carrier
from jobrelay.job_engine import get_job
from jobrelay.queue import get_queue

from .ledger import QueuedMessage


class DramatiqMessages:
    """Builds the message ``DramatiqAdapter.enqueue`` would send for an undelayed job."""

    def __init__(self, adapter: DramatiqAdapter) -> None:
        self.adapter = adapter
        self._keys = DramatiqKeys(adapter.broker.namespace)
        # Per job name, the options and the constant head of the message:
        # computing them per dispatch would cost a noticeable share of it.
        self._parts: dict[str, tuple[dict[str, Any], str]] = {}

    def __call__(self, job: EngineJob, delay_s: float | None, payload: str) -> QueuedMessage | None:
        """The message for ``job`` (``payload`` is its JSON); None for the adapter's own path."""
        if delay_s:
            return None
        parts = self._parts.get(job.name)
        if parts is None:
            options = message_options(get_job(job.name), get_queue(job.queue))
            # Declares the queue on the broker, as sending through the actor would.
            self.adapter.actor(job.queue)
            head = json.dumps(
                {"queue_name": job.queue, "actor_name": actor_name(job.queue)},
                separators=(",", ":"),
            )[:-1]
            parts = self._parts[job.name] = (options, head)
        options, head = parts
        # One id serves as message id and broker id: both need only be unique,
        # and a retry gets a new broker id.
        message_id = os.urandom(16).hex()
        options = {**options, "redis_message_id": message_id}
        if job.priority is not None:
            options[PRIORITY_OPTION] = job.priority
        carrier = current_carrier()
        if carrier:
            options[TRACE_OPTION] = carrier
        if isinstance(dramatiq.get_encoder(), dramatiq.JSONEncoder):
            # What Message.encode gives (json.dumps, compact), with the payload
            # spliced in as already encoded instead of encoded again.
            data = (
                f'{head},"args":[{json.dumps(job.job_id)},{json.dumps(job.name)},{payload}],'
                f'"kwargs":{{}},"options":{json.dumps(options, separators=(",", ":"))},'
                f'"message_id":"{message_id}","message_timestamp":{int(time.time() * 1000)}}}'
            ).encode()
        else:
            data = dramatiq.Message(
                queue_name=job.queue,
                actor_name=actor_name(job.queue),
                args=message_args(job),
                kwargs={},
                options=options,
                message_id=message_id,
            ).encode()
        return QueuedMessage(
            # The lane of the job's priority (its queue's own list by default).
            queue_key=self._keys.lane(job.queue, job.priority or 3),
            messages_key=self._keys.messages(job.queue),
            message_id=message_id,
            data=data,
            wake_key=self._keys.wake(job.queue),
        )
