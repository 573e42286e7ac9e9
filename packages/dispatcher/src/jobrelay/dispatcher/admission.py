"""The admit's one retry, and what a failed admit may have left in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis
from jobrelay.queue import RedisUnavailable
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

T = TypeVar("T")

_RETRY_WAIT_S = 0.05


class AdmitFailed(Exception):
    """Raised when the admit's round trips to Redis failed; says if one may have landed."""

    def __init__(self, cause: RedisUnavailable, may_have_landed: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.may_have_landed = may_have_landed


class NotReplicated(Exception):
    """Raised when an admitted job's write reached fewer replicas than the dispatcher waits for."""

    def __init__(self, job_id: str, acked: int, wanted: int) -> None:
        super().__init__(
            f"job {job_id}: {acked} of {wanted} replicas acknowledged its admission "
            "(JOBRELAY_REPLICA_WAIT)"
        )
        self.acked = acked
        self.wanted = wanted


async def with_one_retry(admit: Callable[[], Awaitable[T]]) -> T:
    """``admit()``, tried once more after 50 ms if Redis failed it other than by a timeout.

    A blip (a dropped connection, a failover) should not send a job to the
    fallback engine; a slow or frozen Redis would only double the delay.
    Raises :class:`AdmitFailed` when it did not succeed.
    """
    try:
        return await admit()
    except RedisUnavailable as exc:
        landed = may_have_landed(exc)
        if isinstance(exc.__cause__, redis.TimeoutError):
            raise AdmitFailed(exc, landed) from exc
        try:
            return await _retry_once(admit)
        except RedisUnavailable as again:
            raise AdmitFailed(again, landed or may_have_landed(again)) from again


def may_have_landed(exc: RedisUnavailable) -> bool:
    """Whether the command that failed with ``exc`` may have run on Redis all the same.

    Only a failed connect (refused, unreachable, timed out while connecting)
    proves the command was never sent; a connection that broke or timed out
    after the send leaves it unknown.
    """
    cause = exc.__cause__
    connect_failed = isinstance(cause, (redis.ConnectionError, redis.TimeoutError)) and (
        "connecting to" in str(cause)
    )
    return not connect_failed


async def _retry_once(admit: Callable[[], Awaitable[T]]) -> T:
    # The first attempt runs outside tenacity: a tenacity loop costs about
    # 13 us a call, a tenth of the whole Dramatiq dispatch.
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(1),
        before=_pause,
        retry=retry_if_exception_type(RedisUnavailable),
        reraise=True,
    ):
        with attempt:
            return await admit()
    raise AssertionError("unreachable")  # pragma: no cover


async def _pause(_: RetryCallState) -> None:
    await asyncio.sleep(_RETRY_WAIT_S)
