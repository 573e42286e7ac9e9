"""An operator's bulk retry and cancel: the jobs a list filter selects, a bounded number."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

from jobrelay.job_engine import JobrelayError
from jobrelay.queue import JobFilter, JobNotFound, JobState, RedisUnavailable
from pydantic import BaseModel

from .errors import EngineUnavailable, IndexUnavailable, InvalidQuery, JobNotRetryable

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

logger = logging.getLogger("jobrelay.dispatcher")

# The states each action can act on; a filter's state outside them selects nothing.
_RETRYABLE = (JobState.FAILED, JobState.DEAD, JobState.CANCELLED)
_CANCELLABLE = (JobState.QUEUED, JobState.RUNNING, JobState.SLEEPING)
# Jobs acted on at once: enough to overlap the round trips, few enough not
# to crowd out dispatches on the same connections.
_CONCURRENCY = 16


class BulkOutcome(BaseModel):
    """What a bulk action did: counts, and whether jobs were left for another call."""

    action: Literal["retry", "cancel"]
    matched: int
    """Jobs the filter selected (at most ``limit``)."""
    acted: int
    """Retried, or asked to stop."""
    skipped: int
    """Already in a state the action does not apply to (a repeat of the call, say)."""
    failed: int
    """The engines did not answer for these; calling again retries them."""
    limit: int
    more: bool
    """More jobs matched than ``limit``: call again for the rest."""


class BulkActions:
    """:meth:`Dispatcher.retry_many` and :meth:`Dispatcher.cancel_many`.

    Both walk the job index from the newest job, in the states the action
    applies to, and are idempotent: a job already retried (queued again) or
    already cancelled is no longer selected by a second call.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def retry(self, where: JobFilter, *, fresh: bool, limit: int | None) -> BulkOutcome:
        """Retry up to ``limit`` failed, dead or cancelled jobs matching ``where``."""

        retried: dict[str, list[str]] = {}

        async def one(job_id: str) -> bool:
            _, queue = await self.dispatcher.retries.run_again(job_id, fresh=fresh)
            retried.setdefault(queue, []).append(job_id)
            return True

        outcome = await self._act("retry", where, _RETRYABLE, limit, one)
        for queue, job_ids in retried.items():
            await self.dispatcher.retries.drop_letters(queue, job_ids)
        return outcome

    async def cancel(self, where: JobFilter, *, limit: int | None) -> BulkOutcome:
        """Ask up to ``limit`` queued, running or sleeping jobs matching ``where`` to stop."""
        return await self._act("cancel", where, _CANCELLABLE, limit, self.dispatcher.cancel)

    async def _act(
        self,
        action: Literal["retry", "cancel"],
        where: JobFilter,
        states: Sequence[JobState],
        limit: int | None,
        act: Callable[[str], Awaitable[bool]],
    ) -> BulkOutcome:
        cap = self.dispatcher.settings.bulk_limit
        limit = cap if limit is None else limit
        if not 1 <= limit <= cap:
            raise InvalidQuery(
                "limit", f"must be between 1 and {cap} (JOBRELAY_BULK_LIMIT), got {limit}"
            )
        job_ids, more = await self._select(where, states, limit)
        semaphore = asyncio.Semaphore(_CONCURRENCY)

        async def settle(job_id: str) -> str:
            async with semaphore:
                try:
                    return "acted" if await act(job_id) else "skipped"
                except (JobNotRetryable, JobNotFound):
                    return "skipped"
                except EngineUnavailable as exc:
                    logger.warning("%s of %s failed: %s", action, job_id, exc)
                    return "failed"
                except JobrelayError as exc:
                    logger.warning("%s of %s refused: %s", action, job_id, exc)
                    return "failed"

        results = await asyncio.gather(*(settle(job_id) for job_id in job_ids))
        return BulkOutcome(
            action=action,
            matched=len(job_ids),
            acted=results.count("acted"),
            skipped=results.count("skipped"),
            failed=results.count("failed"),
            limit=limit,
            more=more,
        )

    async def _select(
        self, where: JobFilter, states: Sequence[JobState], limit: int
    ) -> tuple[list[str], bool]:
        """Up to ``limit`` ids of jobs matching ``where`` in ``states``, and whether more match."""
        d = self.dispatcher
        if where.state is not None:
            states = [where.state] if where.state in states else []
        if not await d.health.ais_healthy():
            raise IndexUnavailable(f"Redis health check failed (breaker {d.health.state.value})")
        found: list[str] = []
        try:
            for state in states:
                cursor: str | None = None
                while True:
                    page = await asyncio.to_thread(
                        d.index.page,
                        dataclasses.replace(where, state=state),
                        limit=min(500, limit + 1 - len(found)),
                        cursor=cursor,
                    )
                    found += [record.job_id for record in page.records]
                    if len(found) > limit:
                        return found[:limit], True
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
        except RedisUnavailable as exc:
            d.health.record_failure()
            raise IndexUnavailable(exc) from exc
        return found, False
