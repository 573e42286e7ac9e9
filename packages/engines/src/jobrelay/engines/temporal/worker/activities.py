"""The activities of :class:`JobWorkflow`: claim, the one generic step, record."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from jobrelay.job_engine import (
    JobDefinitionError,
    PermanentError,
    resolve_step,
)
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    ENGINE_TEMPORAL,
    AttemptEntry,
    ClaimedStart,
    FlowGate,
    JobHistory,
    JobRecord,
    JobState,
    JobStore,
    LeaseKeeper,
    RedisUnavailable,
    Slot,
    Verdict,
    dumps,
    traceback_tail,
)
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ...flow import FlowPlan
from ...job import EngineJob
from ..models import (
    CANCELLED_ERROR,
    CLAIM_ACTIVITY,
    DEFINITION_ERROR,
    FLOW_ACTIVITY,
    PERMANENT_ERROR,
    RECORD_ACTIVITY,
    RUN_ID_FIELD,
    STEP_ACTIVITY,
    ClaimInput,
    ClaimOutput,
    FinishInput,
    FlowInput,
    FlowOutput,
    RecordInput,
    RecordOutput,
    RecordUpdate,
    StepInput,
    StepOutput,
)
from .sandbox import job_module
from .step_call import call_with_heartbeat, coerce_args

logger = logging.getLogger(__name__)

# How long a retried step waits for Redis before it runs: an earlier attempt
# may have finished the step and kept its result there (the worker died before
# Temporal heard back), and running it blind would run a finished step again.
RETRY_CHECK_WAIT_S = 60.0
_RETRY_CHECK_PAUSE_S = 1.0
# A step whose slot lease was lost (a gap between steps longer than the lease,
# and another job took the slot) waits this long between looks for it again.
_SLOT_LOST_PAUSE_S = 1.0


class JobActivities:
    """Activities bound to one worker's store (None: this worker keeps no Redis record).

    Redis is best effort here: when it does not answer, the job still runs and
    Temporal's history stays the source of truth.
    """

    def __init__(self, store: JobStore | None, *, flow_lease_s: float = 30.0) -> None:
        self._store = store
        # The job's attempt and step logs, beside its record (its detail shows them).
        self._history = JobHistory.of(store) if store is not None else None
        # Flow control: slots and turns, and the leases of the slots whose
        # jobs run a step here.
        self._gate = (
            FlowGate(store.client, store.keys, lease_s=flow_lease_s) if store is not None else None
        )
        self._keeper = LeaseKeeper(self._gate) if self._gate is not None else None

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for ``Worker(activities=...)``."""
        return [self.claim, self.step, self.record, self.flow]

    @activity.defn(name=FLOW_ACTIVITY)
    async def flow(self, data: FlowInput) -> FlowOutput:
        """Take the job's slot and turn (``enter``), or free its slot (``leave``).

        Redis not answering is an answer (``unavailable``): the workflow waits
        and asks again, so a limited job never starts without its slot.
        """
        gate = self._gate
        if gate is None:
            logger.warning("job %s: no Redis store, so flow control is not enforced", data.job_id)
            return FlowOutput(verdict="pass")
        slot = data.plan.slot(gate, data.job_id, ENGINE_TEMPORAL)
        try:
            if data.op == "leave":
                if slot is not None:
                    await asyncio.to_thread(gate.leave, slot)
                return FlowOutput(verdict="pass")
            entry = await asyncio.to_thread(
                data.plan.enter,
                gate,
                data.job_id,
                ENGINE_TEMPORAL,
                waited_turn=data.waited_turn,
                poll_s=data.poll_s,
            )
        except RedisUnavailable as exc:
            logger.warning("job %s: Redis unavailable for flow control: %s", data.job_id, exc)
            return FlowOutput(verdict="unavailable")
        if entry.verdict is Verdict.WAIT:
            return FlowOutput(verdict="wait", wait_s=entry.wait_s, waiting_for=entry.waiting_for)
        return FlowOutput(verdict="admitted" if entry.verdict is Verdict.ADMITTED else "pass")

    async def _hold_slot(self, data: StepInput) -> Slot | None:
        """Renew the slot of the job running this step, and keep renewing it meanwhile.

        A slot lost (its lease ended between steps and another job took it) is
        waited for, heartbeating: the step never runs beside more jobs than
        the limit. A Redis that does not answer leaves the step to run (the
        lease stands, and its renewal is retried).
        """
        if data.hold is None or self._gate is None or self._keeper is None:
            return None
        slot = data.hold.slot(self._gate, data.job_id, ENGINE_TEMPORAL)
        if slot is None:
            return None
        while True:
            try:
                lost = await asyncio.to_thread(self._gate.renew, [slot])
            except RedisUnavailable as exc:
                logger.warning("job %s: could not renew its slot: %s", data.job_id, exc)
                break
            if not lost:
                break
            activity.heartbeat()
            await asyncio.sleep(_SLOT_LOST_PAUSE_S)
        self._keeper.hold(slot)
        return slot

    @activity.defn(name=CLAIM_ACTIVITY)
    async def claim(self, data: ClaimInput) -> ClaimOutput:
        """Find the job's module; create its record if absent and claim ``temporal``."""
        job = data.job
        module = job_module(job.name)  # None: the workflow fails it, naming the jobs it knows
        if self._store is None:
            return ClaimOutput(module=module, tracked=False)
        finished = False
        try:
            owner, finished = _claimed(await asyncio.to_thread(self._start, job, 1))
        except RedisUnavailable as exc:
            logger.warning(
                "job %s: Redis unavailable at claim, running anyway: %s", job.job_id, exc
            )
            owner = None
        return ClaimOutput(module=module, tracked=True, owner=owner, finished=finished)

    @activity.defn(name=STEP_ACTIVITY)
    async def step(self, data: StepInput) -> StepOutput:
        """Run one step by ``module:qualname``; its result goes back as JSON."""
        info = activity.info()
        started = time.time()
        synced, before = False, _BeforeStep()
        if self._store is not None:
            checked = await self._check_before_step(data, info.attempt)
            if checked is not None:
                before, synced = checked, True
        owner = before.owner
        if data.turn is not None and not synced and self._gate is not None:
            # No turn without Redis: the step waits rather than run over the rate.
            return StepOutput(
                value="null",
                attempt=info.attempt,
                synced=synced,
                started_at=started,
                wait_s=1.0,
                waiting_for="unavailable",
            )
        if before.turn_wait is not None:
            return StepOutput(
                value="null",
                attempt=info.attempt,
                synced=synced,
                owner=owner,
                started_at=started,
                wait_s=before.turn_wait,
                waiting_for="rate",
            )
        if owner == ENGINE_DRAMATIQ or before.finished:
            # Not this run's to do: the workflow stops on this answer.
            return StepOutput(
                value="null",
                attempt=info.attempt,
                synced=synced,
                owner=owner,
                finished=before.finished,
                started_at=started,
            )
        if before.done is not None:
            # An earlier attempt ran the step and its worker died before Temporal
            # heard back: the result it left in Redis stands, the step is not rerun.
            return StepOutput(
                value=before.done,
                attempt=info.attempt,
                synced=synced,
                owner=owner,
                started_at=started,
            )
        if before.cancel:
            raise ApplicationError(
                f"job {data.job_id} cancelled before step {data.step_id!r}",
                type=CANCELLED_ERROR,
                non_retryable=True,
            )
        try:
            fn = resolve_step(data.ref)
            args = coerce_args(fn, data.args)
        except (JobDefinitionError, ValidationError) as exc:
            raise ApplicationError(str(exc), type=DEFINITION_ERROR, non_retryable=True) from exc
        heartbeat = info.heartbeat_timeout
        interval = max(0.1, min(1.0, heartbeat.total_seconds() / 4)) if heartbeat else None
        keep = partial(self._keep, data, info.attempt, started) if synced else None
        slot = await self._hold_slot(data)
        try:
            value = await call_with_heartbeat(fn, args, interval, keep=keep)
        except PermanentError as exc:
            if synced:
                await self._step_failed(data, info, started, exc, retried=False)
            # Typed explicitly: a subclass name would otherwise look retryable.
            raise ApplicationError(str(exc), type=PERMANENT_ERROR, non_retryable=True) from exc
        except Exception as exc:
            if synced:
                await self._step_failed(data, info, started, exc, retried=_retried(info, exc))
            raise
        finally:
            if slot is not None and self._keeper is not None:
                self._keeper.drop(slot)
        try:
            encoded = dumps(value)
        except PydanticSerializationError as exc:
            # The same value comes back on every retry: fail now, naming the step.
            raise ApplicationError(
                f"step {data.step_id!r} returned a value that is not JSON: {exc}",
                type=DEFINITION_ERROR,
                non_retryable=True,
            ) from exc
        return StepOutput(
            value=encoded, attempt=info.attempt, synced=synced, owner=owner, started_at=started
        )

    async def _step_failed(
        self, data: StepInput, info: activity.Info, started: float, exc: Exception, *, retried: bool
    ) -> None:
        """The failed attempt in the step log and the attempt log (best effort)."""
        assert self._history is not None
        error = f"{type(exc).__name__}: {exc}"
        entry = AttemptEntry(
            attempt=info.attempt,
            engine=ENGINE_TEMPORAL,
            outcome="retrying" if retried else JobState.FAILED.value,
            worker=_worker_identity(),
            started_at=started,
            ended_at=time.time(),
            error=error,
            traceback=traceback_tail(exc),
            step=data.step_id,
        )
        try:
            await asyncio.to_thread(
                self._history.fail_step,
                data.job_id,
                data.step_id,
                attempts=info.attempt,
                started_at=started,
                error=error,
                attempt=entry,
            )
        except RedisUnavailable as exc_:
            logger.info("job %s: could not log %s's failure: %s", data.job_id, data.step_id, exc_)

    async def _check_before_step(self, data: StepInput, attempt: int) -> _BeforeStep | None:
        """What Redis says before a step (see :class:`_BeforeStep`); None when it does not answer.

        A first attempt runs without Redis (Temporal is the fallback for its
        outages). A retry waits up to :data:`RETRY_CHECK_WAIT_S` for Redis,
        heartbeating, since only Redis can say whether an earlier attempt
        finished the step; past that it runs, so a long outage still lets
        the job go on.
        """
        waited = 0.0
        while True:
            try:
                return await asyncio.to_thread(self._before_step, data, attempt)
            except RedisUnavailable as exc:
                if attempt == 1 or waited >= RETRY_CHECK_WAIT_S:
                    logger.warning(
                        "job %s: Redis unavailable before %s (attempt %d)%s: %s",
                        data.job_id,
                        data.step_id,
                        attempt,
                        "; running it unchecked" if attempt > 1 else "",
                        exc,
                    )
                    return None
            activity.heartbeat()
            await asyncio.sleep(_RETRY_CHECK_PAUSE_S)
            waited += _RETRY_CHECK_PAUSE_S

    def _keep(self, data: StepInput, attempt: int, started: float, value: Any) -> None:
        """Keep a step's result for a retry of this activity (blocking; best effort).

        Temporal's history holds the result once the completion reaches it;
        until then a retry after this worker died finds it here. The step
        log learns of the success in the same round trip.
        """
        assert self._history is not None
        try:
            self._history.save_step(
                data.job_id, data.step_id, value, attempts=attempt, started_at=started
            )
        except PydanticSerializationError:
            pass  # the activity reports it, naming the step
        except RedisUnavailable as exc:
            logger.info("job %s: could not keep %s's result: %s", data.job_id, data.step_id, exc)

    @activity.defn(name=RECORD_ACTIVITY)
    async def record(self, data: RecordInput) -> RecordOutput:
        """Write state, progress or the outcome to the job record."""
        if self._store is None:
            return RecordOutput(synced=False)
        worker = _worker_identity()
        try:
            owner, finished = await asyncio.to_thread(self._record, data, worker)
        except RedisUnavailable as exc:
            if data.finish is not None:
                # Retried a few times by the workflow's policy: the outcome matters most.
                raise ApplicationError(
                    f"Redis unavailable: {exc}", type="RedisUnavailable"
                ) from exc
            return RecordOutput(synced=False)
        return RecordOutput(synced=True, owner=owner, finished=finished)

    def _before_step(self, data: StepInput, attempt: int) -> _BeforeStep:
        """Claim if asked (``ensure``), write pending fields, read cancel flag and kept result."""
        store = self._store
        assert store is not None
        owner = None
        if data.ensure is not None:
            owner, finished = _claimed(self._start(data.ensure, max(attempt, data.attempts)))
            if owner == ENGINE_DRAMATIQ or finished:
                return _BeforeStep(owner=owner, finished=finished)
        update = data.update or RecordUpdate()
        if attempt > data.attempts:
            update = update.merge(RecordUpdate(attempts=attempt))
        self._apply(data.job_id, update)
        if data.turn is not None and self._gate is not None:
            # Its rate-limit turn, right before it runs (a wait runs nothing).
            plan = data.turn
            entry = self._gate.enter(
                plan.name,
                data.job_id,
                ENGINE_TEMPORAL,
                rate_key=plan.rate_key,
                interval_s=plan.interval_s,
                waited_turn=data.waited_turn,
            )
            if entry.verdict is Verdict.WAIT:
                return _BeforeStep(owner=owner, turn_wait=entry.wait_s)
        done = store.load_step(data.job_id, data.step_id) if attempt > 1 else None
        # The cancel flag, read with the step marked running in its log (one round trip).
        assert self._history is not None
        cancel = self._history.step_started(data.job_id, data.step_id, attempt=attempt)
        return _BeforeStep(owner=owner, cancel=cancel, done=done)

    def _record(self, data: RecordInput, worker: str) -> tuple[str | None, bool]:
        """Claim if asked (``ensure``), then write; ``(owner, finished by an earlier run)``.

        The job's slot (``release``) is freed whatever the write found.
        """
        try:
            return self._write(data, worker)
        finally:
            if data.release is not None:
                self._release(data.job_id, data.release)

    def _write(self, data: RecordInput, worker: str) -> tuple[str | None, bool]:
        store = self._store
        assert store is not None
        owner = None
        if data.ensure is not None:
            owner, finished = _claimed(self._start(data.ensure, 1))
            if owner == ENGINE_DRAMATIQ or finished:
                return owner, finished
        if data.update is not None:
            self._apply(data.job_id, data.update)
        if data.finish is not None:
            finish = data.finish
            store.finish(
                data.job_id, JobState(finish.state), result=finish.result, error=finish.error
            )
            self._log_outcome(data.job_id, finish, worker)
        return owner, False

    def _release(self, job_id: str, plan: FlowPlan) -> None:
        """Free the job's slot with its outcome (blocking; one that is not freed expires)."""
        assert self._gate is not None
        slot = plan.slot(self._gate, job_id, ENGINE_TEMPORAL)
        if slot is None:
            return
        try:
            self._gate.leave(slot)
        except RedisUnavailable as exc:
            logger.info("job %s: its slot frees when its lease ends: %s", job_id, exc)

    def _log_outcome(self, job_id: str, finish: FinishInput, worker: str) -> None:
        """The run's outcome as the last entry of its attempt log (blocking; best effort).

        Best effort: the outcome is in the record, and a failure here must not
        have the workflow write it again.
        """
        assert self._history is not None
        entry = AttemptEntry(
            attempt=finish.attempt or 1,
            engine=ENGINE_TEMPORAL,
            outcome=finish.state,
            worker=worker,
            started_at=finish.started_at,
            ended_at=time.time(),
            error=finish.error,
        )
        try:
            self._history.log_attempt(job_id, entry)
        except RedisUnavailable as exc:
            logger.info("job %s: could not log its outcome: %s", job_id, exc)

    def _start(self, job: EngineJob, attempt: int) -> ClaimedStart:
        """Claim ``temporal`` and start ``attempt``, creating the record if it has none.

        A run that starts notes its run id in the record (once per run: the
        workflow stops asking for the claim once it got through).
        """
        assert self._store is not None
        record = JobRecord(
            job_id=job.job_id,
            name=job.name,
            queue=job.queue,
            engine=ENGINE_TEMPORAL,
            payload=dumps(job.payload),
        )
        started = self._store.start_or_create(record, ENGINE_TEMPORAL, attempt=attempt)
        run_id = activity.info().workflow_run_id
        if started.memo is not None and started.owner == ENGINE_TEMPORAL and run_id:
            self._store.update(job.job_id, **{RUN_ID_FIELD: run_id})
        return started

    def _apply(self, job_id: str, update: RecordUpdate) -> None:
        """Write the fields ``update`` sets."""
        assert self._store is not None
        fields: dict[str, Any] = update.model_dump(exclude_none=True)
        if update.state == JobState.RUNNING:
            fields["wake_at"] = None  # awake again
        if fields:
            self._store.update(job_id, **fields)


@dataclass(frozen=True, slots=True)
class _BeforeStep:
    """What Redis said before a step."""

    owner: str | None = None
    """The job's owner after the claim (None when no claim was asked for)."""
    finished: bool = False
    """An earlier run of this engine finished the job: nothing more to run."""
    cancel: bool = False
    done: str | None = None
    """The step's result kept by an earlier attempt (JSON), if any."""
    turn_wait: float | None = None
    """Seconds until the job's rate-limit turn: the step must not run yet."""


def _worker_identity() -> str:
    """The identity of the worker running the current activity (its client's)."""
    try:
        return activity.client().identity
    except RuntimeError:  # a sync activity, or a test environment without a client
        return f"{socket.gethostname()}:{os.getpid()}"


def _retried(info: activity.Info, exc: Exception) -> bool:
    """Whether Temporal tries the activity again after it raised ``exc``."""
    policy = info.retry_policy
    if policy is None:
        return True
    if type(exc).__name__ in (policy.non_retryable_error_types or ()):
        return False
    return policy.maximum_attempts == 0 or info.attempt < policy.maximum_attempts


def _claimed(started: ClaimedStart) -> tuple[str | None, bool]:
    """The owner after a claim, and whether an earlier Temporal run already finished the job.

    A start after Temporal forgot an earlier, finished run must not run it again.
    """
    finished = started.owner == ENGINE_TEMPORAL and bool(started.state and started.state.finished)
    return started.owner, finished
