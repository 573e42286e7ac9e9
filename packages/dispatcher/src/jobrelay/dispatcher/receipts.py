"""What a dispatch adds to a new record (its token), and receipts rebuilt from a record."""

from __future__ import annotations

import os

from jobrelay.engines import EngineJob
from jobrelay.job_engine import get_job
from jobrelay.job_engine.flow import PRIORITY_RANGE
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, JobRecord, Keys, new_record_fields

from .ledger import Admission, UniqueWindow
from .models import DispatchReceipt, Reason


def new_token() -> str:
    """A per-dispatch token: tells this dispatch's record from an earlier one."""
    return os.urandom(8).hex()


def record_fields(job: EngineJob, engine: str, reason: Reason, token: str) -> dict[str, str]:
    """The new record of ``job`` (``jobrelay.queue.new_record_fields``) with this dispatch's token.

    ``dispatch_token`` lands in the record's ``extra``: it tells this
    dispatch's record from an earlier one with the same id; so does the
    job's ``priority`` when it is not the default.
    """
    fields = new_record_fields(job.job_id, job.name, job.queue, engine=engine, reason=reason.value)
    fields["dispatch_token"] = token
    if job.priority is not None:
        fields["priority"] = str(job.priority)
    return fields


def record_priority(record: JobRecord) -> int | None:
    """The priority key a record was dispatched with; None for the default."""
    raw = record.extra.get("priority", "")
    return int(raw) if raw.isdigit() and int(raw) in PRIORITY_RANGE else None


def unique_window(keys: Keys, job: EngineJob) -> UniqueWindow | None:
    """The uniqueness window ``job`` opens or falls in (``@job(unique_for=...)``), if any.

    Raises ``InvalidPayload`` when its key cannot be read from the payload.
    """
    definition = get_job(job.name)
    window_s = definition.flow.unique_for_s
    if window_s is None:
        return None
    key = definition.flow_keys(job.payload).unique
    assert key is not None
    return UniqueWindow(keys.flow_unique(job.name, key), window_s)


def deduplicated_receipt(job_id: str, existing: Admission) -> DispatchReceipt:
    """The first dispatch's receipt, rebuilt from the record it left.

    A uniqueness window's answer is the window's first job's receipt, its id included.
    """
    job_id = existing.job_id or job_id
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
