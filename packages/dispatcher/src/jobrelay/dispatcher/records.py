"""The job-record fields the dispatcher writes, and receipts rebuilt from a record."""

from __future__ import annotations

import os
import time

from jobrelay.engines import EngineJob
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, JobState

from .ledger import Admission
from .models import DispatchReceipt, Reason


def new_token() -> str:
    """A per-dispatch token: tells this dispatch's record from an earlier one."""
    return os.urandom(8).hex()


def record_fields(job: EngineJob, engine: str, reason: Reason, token: str) -> dict[str, str]:
    """The ``job:{id}`` hash of a new job but its payload (fields of ``jobrelay.queue.JobRecord``).

    Written directly: building the model for every dispatch would cost more
    than the Redis call. ``dispatch_token`` lands in the record's ``extra``.
    """
    # Fields left out (attempts, progress, message, result...) read as their
    # defaults in JobRecord.from_hash.
    now = repr(time.time())
    return {
        "job_id": job.job_id,
        "name": job.name,
        "queue": job.queue,
        "state": JobState.QUEUED.value,
        "engine": engine,
        "reason": reason.value,
        "created_at": now,
        "updated_at": now,
        "dispatch_token": token,
    }


def deduplicated_receipt(job_id: str, existing: Admission) -> DispatchReceipt:
    """The first dispatch's receipt, rebuilt from the record it left."""
    engine = existing.engine or existing.owner or ENGINE_DRAMATIQ
    if engine not in (ENGINE_DRAMATIQ, ENGINE_TEMPORAL):
        engine = ENGINE_DRAMATIQ
    if existing.reason:
        try:
            reason = Reason(existing.reason)
        except ValueError:
            reason = Reason.OK
    elif engine == ENGINE_TEMPORAL:
        # Only a workflow writes a Temporal record without a dispatch reason:
        # one dispatched while Redis was unreachable.
        reason = Reason.REDIS_UNAVAILABLE
    else:
        reason = Reason.OK
    return DispatchReceipt(job_id=job_id, engine=engine, reason=reason, deduplicated=True)
