"""Build a :class:`JobDetail` from a job's status and its attempt and step logs."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from jobrelay.job_engine import DEFAULT_PRIORITY, InvalidPayload, UnknownJob, get_job
from jobrelay.queue import (
    FINISHED_STATES,
    AttemptEntry,
    HistoryView,
    JobRecord,
    JobState,
    StepEntry,
    StepState,
    loads,
)

from .models import JobAttempt, JobDetail, JobFlow, JobStatus, JobStep, TemporalRun, utc
from .receipts import record_priority

RESULT_LIMIT = 2000
"""Characters of a step's result (JSON text) a detail shows; the rest is cut."""

_ENGINES = {"dramatiq", "temporal"}


def detail_of(
    status: JobStatus,
    view: HistoryView | None = None,
    temporal: TemporalRun | None = None,
) -> JobDetail:
    """The job's detail: ``status`` with what ``view`` (its record and logs) adds."""
    record = view.record if view is not None else None
    return JobDetail(
        **status.model_dump(),
        payload=_payload(record) if record is not None else None,
        history=_history(view.attempts, record) if view is not None else [],
        steps=_steps(view, record) if view is not None else [],
        temporal=temporal,
        flow=flow_of(record) if record is not None else None,
    )


def flow_of(record: JobRecord) -> JobFlow | None:
    """The job's flow control as its record and its job's declaration tell; None if none.

    The declaration is read where the job's module is loaded (a web app that
    does not load it shows the priority and the wait only).
    """
    waiting = record.extra.get("waiting_for") if record.state is JobState.QUEUED else None
    flow = JobFlow(
        priority=record_priority(record) or DEFAULT_PRIORITY,
        waiting_for=waiting if waiting in ("slot", "rate") else None,
    )
    try:
        definition = get_job(record.name)
    except UnknownJob:
        definition = None
    if definition is not None and definition.flow.declared:
        declared = definition.flow.describe()
        try:
            payload = loads(record.payload)
            keys = definition.flow_keys(payload) if isinstance(payload, dict) else None
        except (ValueError, InvalidPayload):
            keys = None
        flow = flow.model_copy(
            update={
                "concurrency_limit": declared.get("concurrency_limit"),
                "concurrency_key": keys.concurrency if keys else None,
                "rate_limit": declared.get("rate_limit"),
                "rate_key": keys.rate if keys else None,
                "unique_for_s": declared.get("unique_for_s"),
                "unique_key": keys.unique if keys else None,
            }
        )
    if flow == JobFlow():
        return None
    return flow


def temporal_run(
    job_id: str, run_id: str | None, *, ui_url: str | None, namespace: str
) -> TemporalRun:
    """The job's workflow run; linked into the Temporal UI at ``ui_url`` when both are known."""
    link = None
    if ui_url and run_id:
        link = (
            f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
            f"/workflows/{quote(job_id, safe='')}/{quote(run_id, safe='')}/history"
        )
    return TemporalRun(workflow_id=job_id, run_id=run_id, ui_url=link)


def truncated(text: str, limit: int = RESULT_LIMIT) -> str:
    """``text`` cut after ``limit`` characters, with a marker saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated: {len(text)} characters in all]"


def _payload(record: JobRecord) -> Any:
    try:
        return loads(record.payload)
    except ValueError:
        return record.payload


def _history(entries: list[AttemptEntry], record: JobRecord | None) -> list[JobAttempt]:
    attempts = [_attempt(entry) for entry in entries]
    # Oldest first by when each ended: writers on several workers append in
    # the order their writes land, not always the order the attempts ran.
    attempts.sort(key=lambda a: a.ended_at.timestamp() if a.ended_at else math.inf)
    running = _running_attempt(entries, record)
    if running is not None:
        attempts.append(running)
    return attempts


def _attempt(entry: AttemptEntry) -> JobAttempt:
    return JobAttempt(
        attempt=entry.attempt,
        engine=entry.engine if entry.engine in _ENGINES else None,
        worker=entry.worker,
        started_at=utc(entry.started_at),
        ended_at=utc(entry.ended_at),
        outcome=entry.outcome,
        error=entry.error,
        traceback=entry.traceback,
        step=entry.step,
    )


def _running_attempt(entries: list[AttemptEntry], record: JobRecord | None) -> JobAttempt | None:
    """The attempt under way, which the log gets only when it ends; None when none is."""
    if record is None or record.state is not JobState.RUNNING or record.attempts < 1:
        return None
    last = entries[-1] if entries else None
    if last is not None and last.attempt == record.attempts and last.step is None and last.final:
        # It ended (the log can be written before the record's outcome lands).
        return None
    return JobAttempt(
        attempt=record.attempts,
        engine=record.engine if record.engine in _ENGINES else None,
        # The record keeps when the first attempt started, not the later ones.
        started_at=utc(record.started_at) if record.attempts == 1 else None,
        outcome="running",
    )


def _steps(view: HistoryView, record: JobRecord | None) -> list[JobStep]:
    finished = record is not None and record.state.value in FINISHED_STATES
    steps = [
        _step(step_id, entry, view.results.get(step_id), finished)
        for step_id, entry in view.steps.items()
    ]
    steps.sort(key=lambda s: s.started_at.timestamp() if s.started_at else math.inf)
    return steps


def _step(step_id: str, entry: StepEntry, result: str | None, job_finished: bool) -> JobStep:
    state, error = entry.state, entry.error
    if state is StepState.RUNNING and job_finished:
        # Its run was cut (a cancelled activity, a killed worker) and never
        # ended: it cannot be running in a job that finished.
        state, error = StepState.FAILED, error or "did not finish: the job ended while it ran"
    return JobStep(
        step_id=step_id,
        state=state.value,
        attempts=entry.attempts,
        duration_ms=entry.duration_ms,
        result=truncated(result) if result is not None and state is StepState.SUCCEEDED else None,
        error=error,
        started_at=utc(entry.started_at),
        ended_at=utc(entry.ended_at),
    )
