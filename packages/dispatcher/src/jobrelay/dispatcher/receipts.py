"""What a dispatch adds to a new record (its token), and receipts rebuilt from a record."""

from __future__ import annotations

import os

from jobrelay.engines import EngineJob
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, new_record_fields

from .ledger import Admission
from .models import DispatchReceipt, Reason


def new_token() -> str:
    """A per-dispatch token: tells this dispatch's record from an earlier one."""
    return os.urandom(8).hex()


def record_fields(job: EngineJob, engine: str, reason: Reason, token: str) -> dict[str, str]:
    """The new record of ``job`` (``jobrelay.queue.new_record_fields``) with this dispatch's token.

    ``dispatch_token`` lands in the record's ``extra``: it tells this
    dispatch's record from an earlier one with the same id.
    """
    fields = new_record_fields(job.job_id, job.name, job.queue, engine=engine, reason=reason.value)
    fields["dispatch_token"] = token
    return fields


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
