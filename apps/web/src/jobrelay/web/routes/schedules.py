"""Schedules for an operator: read every one, make and change run-time ones, pause,
resume, fire now, backfill."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response, status
from jobrelay.dispatcher import DispatchReceipt
from jobrelay.scheduler import Firing, ScheduleAdmin, ScheduleView
from pydantic import AwareDatetime, BaseModel

from ..auth import require_token
from ..params import ScheduleIdPath

router = APIRouter(dependencies=[Depends(require_token)])


class FiringView(BaseModel):
    """One tick fired: its job, and whether this call fired it (false: it had been before)."""

    tick: datetime
    job_id: str
    new: bool
    receipt: DispatchReceipt | None


class Backfill(BaseModel):
    start: AwareDatetime
    end: AwareDatetime


class BackfillResult(BaseModel):
    fired: int
    """Ticks fired by this call."""
    already: int
    """Ticks fired before (by the schedulers or an earlier backfill): not run again."""
    firings: list[FiringView]


# Checked by Schedule itself (ScheduleAdmin), so every field at fault is named
# with the schedule's own messages; the example shows the shape.
_EXAMPLE = {
    "id": "nightly",
    "job": "demo.countdown",
    "cron": "0 3 * * *",
    "tz": "Europe/Paris",
    "payload": {"start": 3},
}
ScheduleBody = Annotated[dict[str, Any], Body(examples=[_EXAMPLE])]


def _admin(request: Request) -> ScheduleAdmin:
    admin: ScheduleAdmin = request.app.state.schedules
    return admin


def _view(firing: Firing) -> FiringView:
    return FiringView(
        tick=firing.tick, job_id=firing.job_id, new=firing.new, receipt=firing.receipt
    )


@router.get("/schedules")
async def list_schedules(request: Request) -> list[ScheduleView]:
    """Every schedule, code and run-time: its rule, pause, next firings, last firing and state."""
    return await _admin(request).list_all()


@router.post("/schedules", status_code=status.HTTP_201_CREATED, responses={422: {}})
async def create_schedule(request: Request, body: ScheduleBody) -> ScheduleView:
    """A run-time schedule (kept in Redis): the fields of ``Schedule`` with ``job`` named.

    422 naming the field (a bad cron, an unknown timezone, ``every`` <= 0, an
    unknown job, a payload the job refuses); 409 when the id is taken.
    """
    return await _admin(request).create(body)


@router.get("/schedules/{schedule_id}")
async def get_schedule(schedule_id: ScheduleIdPath, request: Request) -> ScheduleView:
    """One schedule; 404 naming the id when none has it."""
    return await _admin(request).get(schedule_id)


@router.patch("/schedules/{schedule_id}")
async def update_schedule(
    schedule_id: ScheduleIdPath,
    request: Request,
    body: dict[str, Any] = Body(...),  # noqa: B008
) -> ScheduleView:
    """Change fields of a run-time schedule; 409 for one declared in code."""
    return await _admin(request).update(schedule_id, body)


@router.delete("/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(schedule_id: ScheduleIdPath, request: Request) -> Response:
    """Forget a run-time schedule (its fired jobs stay); 409 for one declared in code."""
    await _admin(request).delete(schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/schedules/{schedule_id}/pause")
async def pause_schedule(schedule_id: ScheduleIdPath, request: Request) -> ScheduleView:
    """No tick fires until the resume; the paused stretch is not caught up."""
    return await _admin(request).set_paused(schedule_id, True)


@router.post("/schedules/{schedule_id}/resume")
async def resume_schedule(schedule_id: ScheduleIdPath, request: Request) -> ScheduleView:
    """Ticks fire again from now on."""
    return await _admin(request).set_paused(schedule_id, False)


@router.post("/schedules/{schedule_id}/trigger", status_code=status.HTTP_202_ACCEPTED)
async def trigger_schedule(schedule_id: ScheduleIdPath, request: Request) -> FiringView:
    """Fire now (a tick at this second), paused or not."""
    return _view(await _admin(request).trigger(schedule_id))


@router.post("/schedules/{schedule_id}/backfill")
async def backfill_schedule(
    schedule_id: ScheduleIdPath, body: Backfill, request: Request
) -> BackfillResult:
    """Fire every tick from ``start`` to ``end`` not fired yet (at most 1000 ticks)."""
    firings = await _admin(request).backfill(schedule_id, body.start, body.end)
    new = sum(f.new for f in firings)
    return BackfillResult(
        fired=new, already=len(firings) - new, firings=[_view(f) for f in firings]
    )
