"""One job's status, cancellation and removal, whichever engine holds the job."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jobrelay.engines.temporal import RUN_ID_FIELD
from jobrelay.queue import (
    ENGINE_TEMPORAL,
    HistoryView,
    JobHistory,
    JobRecord,
    JobState,
    JobStore,
    RedisHealth,
    RedisUnavailable,
)

from .backfill import BACKFILLED
from .detail import detail_of, temporal_run
from .errors import JobNotFound, JobNotRemovable, StatusUnavailable
from .models import JobDetail, JobStatus, TemporalRun
from .status import status_from_description, status_from_record
from .temporal_link import TemporalLink

logger = logging.getLogger("jobrelay.dispatcher")


class JobInspector:
    """Answers status from the Redis record, else from Temporal; cancels on either engine.

    The store's calls block, so they run in a worker thread: status and cancel
    are an operator's calls, rare next to dispatches, and read whole records.
    """

    def __init__(
        self,
        store: JobStore,
        health: RedisHealth,
        temporal: TemporalLink,
        *,
        temporal_ui_url: str | None = None,
        temporal_namespace: str = "default",
    ) -> None:
        self.store = store
        self.health = health
        self.temporal = temporal
        self.history = JobHistory.of(store)
        self.temporal_ui_url = temporal_ui_url
        self.temporal_namespace = temporal_namespace

    async def get_status(self, job_id: str) -> JobStatus:
        """The job's status; :class:`JobNotFound` when no engine knows it."""
        record, redis_error = await self._record(job_id)
        if record is not None:
            status, _ = await self._status_of(record)
            return status
        status, _ = await self._unrecorded_status(job_id, redis_error)
        return status

    async def get_detail(self, job_id: str) -> JobDetail:
        """The job's status with its payload, attempts, steps and Temporal run.

        Record and logs are read in one round trip. A job only Temporal knows
        (no record, or Redis away) has no attempts or steps here, and its run
        id comes from Temporal. Raises as :meth:`get_status` does.
        """
        view, redis_error = await self._history_view(job_id)
        record = view.record if view is not None else None
        if view is None or record is None:
            status, described = await self._unrecorded_status(job_id, redis_error)
            return detail_of(status, temporal=self._run(job_id, described.get("run_id")))
        status, description = await self._status_of(record)
        run = None
        if record.engine == ENGINE_TEMPORAL:
            run_id: object = record.extra.get(RUN_ID_FIELD) or None
            if run_id is None:
                # Not started yet, or started while Redis was away: Temporal knows.
                description = description or await self._describe_quietly(job_id)
                run_id = description.get("run_id") if description else None
            run = self._run(job_id, run_id)
        return detail_of(status, view, run)

    def _run(self, job_id: str, run_id: object) -> TemporalRun:
        return temporal_run(
            job_id,
            run_id if isinstance(run_id, str) and run_id else None,
            ui_url=self.temporal_ui_url,
            namespace=self.temporal_namespace,
        )

    async def _status_of(self, record: JobRecord) -> tuple[JobStatus, dict[str, Any] | None]:
        """The status ``record`` tells, and Temporal's description when it was asked."""
        if record.extra.get(BACKFILLED) == "1" and not record.state.finished:
            return await self._backfilled_status(record)
        return status_from_record(record), None

    async def _unrecorded_status(
        self, job_id: str, redis_error: BaseException | str | None
    ) -> tuple[JobStatus, dict[str, Any]]:
        """The status of a job without a record (or with Redis away), from Temporal."""
        try:
            description = await (await self.temporal.get()).describe(job_id)
        except Exception as exc:
            raise StatusUnavailable(
                job_id, redis_cause=redis_error or "no record", temporal_cause=exc
            ) from exc
        if description is not None:
            return status_from_description(job_id, description), description
        if redis_error is not None:
            # Redis may hold it; we cannot say it does not exist.
            raise StatusUnavailable(
                job_id, redis_cause=redis_error, temporal_cause="no workflow with this id"
            )
        raise JobNotFound(job_id)

    async def _backfilled_status(
        self, record: JobRecord
    ) -> tuple[JobStatus, dict[str, Any] | None]:
        # Written after the fact (see Backfill): the workflow may be further on,
        # or done, without having updated the record.
        description = await self._describe_quietly(record.job_id)
        if description is None:
            return status_from_record(record), None
        status = status_from_description(record.job_id, description)
        reason = status_from_record(record).reason
        return status.model_copy(update={"reason": reason}), description

    async def _describe_quietly(self, job_id: str) -> dict[str, Any] | None:
        """Temporal's description of the job; None when it has none or does not answer."""
        try:
            return await (await self.temporal.get()).describe(job_id)
        except Exception:
            return None

    async def cancel(self, job_id: str) -> bool:
        """Ask the job to stop; False when it had already finished.

        A job no engine has claimed yet is cancelled at once: claiming it
        ``temporal`` keeps any queued Dramatiq message from running it. A
        Dramatiq job stops at its next step (Redis flag); a Temporal job gets
        the flag and a workflow cancellation.
        """
        record, redis_error = await self._record(job_id)
        if record is None:
            return await self._cancel_unrecorded(job_id, redis_error)
        if record.state.finished:
            return False
        try:
            owner, cancelled = await asyncio.to_thread(self._cancel_in_redis, job_id)
            if cancelled:
                # A reconciler may have started it in the meantime.
                await self._try_temporal_cancel(job_id)
                return True
        except RedisUnavailable as exc:
            self.health.record_failure()
            return await self._cancel_unrecorded(job_id, exc)
        if owner == ENGINE_TEMPORAL:
            await self._try_temporal_cancel(job_id)
        return True

    async def delete(self, job_id: str) -> None:
        """Remove a finished job's record, keys and index entries.

        A job only Temporal knows has no record here: :class:`JobNotFound`.
        """
        if not await self.health.ais_healthy():
            cause = f"Redis health check failed (breaker {self.health.state.value})"
            raise StatusUnavailable(job_id, redis_cause=cause, temporal_cause="not asked")
        try:
            removed = await asyncio.to_thread(self.store.remove, job_id)
        except RedisUnavailable as exc:
            self.health.record_failure()
            raise StatusUnavailable(job_id, redis_cause=exc, temporal_cause="not asked") from exc
        if removed is None:
            raise JobNotFound(job_id)
        deleted, state = removed
        if not deleted:
            raise JobNotRemovable(job_id, state.value)

    def _cancel_in_redis(self, job_id: str) -> tuple[str | None, bool]:
        """The owner, and whether the job was cancelled here before any engine took it."""
        owner = self.store.owner(job_id)
        if owner is None:
            owner = self.store.claim(job_id, ENGINE_TEMPORAL)
            if owner == ENGINE_TEMPORAL:
                self.store.finish(job_id, JobState.CANCELLED, error="cancelled before start")
                return owner, True
        self.store.request_cancel(job_id)
        return owner, False

    async def _history_view(
        self, job_id: str
    ) -> tuple[HistoryView | None, BaseException | str | None]:
        if not await self.health.ais_healthy():
            return None, f"Redis health check failed (breaker {self.health.state.value})"
        try:
            return await asyncio.to_thread(self.history.read, job_id), None
        except RedisUnavailable as exc:
            self.health.record_failure()
            return None, exc

    async def _record(self, job_id: str) -> tuple[JobRecord | None, BaseException | str | None]:
        if not await self.health.ais_healthy():
            return None, f"Redis health check failed (breaker {self.health.state.value})"
        try:
            return await asyncio.to_thread(self.store.get, job_id), None
        except RedisUnavailable as exc:
            self.health.record_failure()
            return None, exc

    async def _cancel_unrecorded(
        self, job_id: str, redis_error: BaseException | str | None
    ) -> bool:
        # No record (dispatched while Redis was down), or Redis unreachable.
        try:
            engine = await self.temporal.get()
            if await engine.cancel(job_id):
                return True
            exists = await engine.describe(job_id) is not None
        except Exception as exc:
            raise StatusUnavailable(
                job_id, redis_cause=redis_error or "no record", temporal_cause=exc
            ) from exc
        if exists:
            return False  # the workflow had already closed
        if redis_error is not None:
            raise StatusUnavailable(
                job_id, redis_cause=redis_error, temporal_cause="no workflow with this id"
            )
        raise JobNotFound(job_id)

    async def _try_temporal_cancel(self, job_id: str) -> None:
        try:
            await (await self.temporal.get()).cancel(job_id)
        except Exception as exc:
            # The Redis flag is set: the workflow sees it at its next step.
            logger.warning(
                "Temporal cancel of %s failed: %r", job_id, exc, extra={"job_id": job_id}
            )
