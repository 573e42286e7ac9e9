from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, AsyncRedis

from .ledger import Ledger

logger = logging.getLogger("jobrelay.dispatcher")

BACKFILLED = "backfilled"


class Backfill:
    """Records of jobs this process started on Temporal while Redis was unreachable.

    Written (record + ``owner=temporal``) as soon as Redis answers again, so a
    later dispatch of the same ``job_id`` is deduplicated instead of running
    the job a second time on Dramatiq, and the status is found in Redis. A
    record written here is marked ``backfilled``: its state may lag behind
    the workflow's, so the status asks Temporal while it is unfinished.
    Other processes cannot know these ids; the workflow itself writes the
    record too when Redis answers during its run.
    """

    def __init__(self, ledger: Ledger, redis: AsyncRedis, *, limit: int = 10_000) -> None:
        self.ledger = ledger
        self.redis = redis
        self.limit = limit
        self._jobs: OrderedDict[str, tuple[dict[str, str], str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job_id: str, fields: dict[str, str], payload: str) -> None:
        """Remember a record to write; the oldest is forgotten past ``limit``."""
        with self._lock:
            self._jobs[job_id] = ({**fields, BACKFILLED: "1"}, payload)
            if len(self._jobs) > self.limit:
                dropped, _ = self._jobs.popitem(last=False)
                logger.warning("backfill full: the record of %s will not be written", dropped)

    async def flush(self) -> int:
        """Write every remembered record; raises RedisUnavailable, keeping the rest."""
        written = 0
        while True:
            with self._lock:
                if not self._jobs:
                    return written
                job_id, (fields, payload) = next(iter(self._jobs.items()))
            admission = await self.redis.run(
                self.ledger.admit(
                    job_id, fields, payload=payload, deadline=None, owner=ENGINE_TEMPORAL
                )
            )
            if not admission.created and admission.owner == ENGINE_DRAMATIQ:
                # Dramatiq ran it before Temporal's copy could claim: that copy
                # ends as a duplicate when it claims. Nothing to write.
                logger.info("backfill: %s is owned by dramatiq", job_id)
            with self._lock:
                self._jobs.pop(job_id, None)
            written += 1
