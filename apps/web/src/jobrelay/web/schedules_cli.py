"""``jobrelay schedules ...``: the schedules over HTTP to the web app, like the other
operator commands (tables, ``--json``, one error line)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from .ops_cli import JsonOption, run_ops, show

schedules = typer.Typer(
    help="Schedules: list, show, add, change, pause, resume, trigger, backfill, delete.",
    no_args_is_help=True,
)

IdArgument = Annotated[str, typer.Argument(help="the schedule id")]


@schedules.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every schedule: its rule, next firings, last firing and its state."""
    from .ops_tables import schedules_table

    run_ops(lambda client: show(client.call("GET", "/schedules"), as_json, schedules_table))


@schedules.command("show")
def show_(schedule_id: IdArgument, as_json: JsonOption = False) -> None:
    """One schedule in full."""
    from .ops_tables import schedule_view

    path = f"/schedules/{schedule_id}"
    run_ops(lambda client: show(client.call("GET", path), as_json, schedule_view))


@schedules.command("add")
def add(
    schedule_id: IdArgument,
    job: Annotated[str, typer.Option(help="the job it fires, e.g. demo.countdown")],
    cron: Annotated[str | None, typer.Option(help="five cron fields, e.g. '0 3 * * *'")] = None,
    every: Annotated[float | None, typer.Option(help="a period in seconds")] = None,
    tz: Annotated[str, typer.Option(help="IANA timezone of the cron fields")] = "UTC",
    payload: Annotated[str, typer.Option(help="the job's payload as JSON")] = "{}",
    overlap: Annotated[str, typer.Option(help="skip, allow or buffer_one")] = "skip",
    catchup: Annotated[str, typer.Option(help="latest, all or none")] = "latest",
    as_json: JsonOption = False,
) -> None:
    """Make a run-time schedule (kept in Redis)."""
    from .ops_tables import schedule_view

    body: dict[str, Any] = {
        "id": schedule_id,
        "job": job,
        "tz": tz,
        "payload": _object(payload),
        "overlap": overlap,
        "catchup": catchup,
    }
    if cron is not None:
        body["cron"] = cron
    if every is not None:
        body["every"] = every
    run_ops(
        lambda client: show(client.call("POST", "/schedules", json=body), as_json, schedule_view)
    )


@schedules.command("set")
def set_(
    schedule_id: IdArgument,
    fields: Annotated[
        str, typer.Argument(help="the fields to change as JSON, e.g. '{\"every\": 60}'")
    ],
    as_json: JsonOption = False,
) -> None:
    """Change fields of a run-time schedule."""
    from .ops_tables import schedule_view

    body = _object(fields)
    path = f"/schedules/{schedule_id}"
    run_ops(lambda client: show(client.call("PATCH", path, json=body), as_json, schedule_view))


@schedules.command()
def pause(schedule_id: IdArgument) -> None:
    """No tick fires until the resume (the paused stretch is not caught up)."""
    run_ops(lambda c: _paused(c.call("POST", f"/schedules/{schedule_id}/pause")))


@schedules.command()
def resume(schedule_id: IdArgument) -> None:
    """Ticks fire again from now on."""
    run_ops(lambda c: _paused(c.call("POST", f"/schedules/{schedule_id}/resume")))


@schedules.command()
def trigger(schedule_id: IdArgument) -> None:
    """Fire now; prints the job id."""
    run_ops(lambda c: typer.echo(c.call("POST", f"/schedules/{schedule_id}/trigger")["job_id"]))


@schedules.command()
def backfill(
    schedule_id: IdArgument,
    start: Annotated[datetime, typer.Option(help="first tick time (UTC when no zone is given)")],
    end: Annotated[datetime, typer.Option(help="last tick time (UTC when no zone is given)")],
    as_json: JsonOption = False,
) -> None:
    """Fire every tick from START to END not fired yet (at most 1000)."""
    body = {"start": _iso(start), "end": _iso(end)}

    def done(client: Any) -> None:
        answer = client.call("POST", f"/schedules/{schedule_id}/backfill", json=body)
        if as_json:
            from .ops_tables import print_json

            print_json(answer)
        else:
            typer.echo(f"{answer['fired']} fired, {answer['already']} had fired before")

    run_ops(done)


@schedules.command()
def delete(schedule_id: IdArgument) -> None:
    """Forget a run-time schedule (the jobs it fired stay)."""

    def done(client: Any) -> None:
        client.call("DELETE", f"/schedules/{schedule_id}")
        typer.echo(f"{schedule_id}: deleted")

    run_ops(done)


def _paused(view: dict[str, Any]) -> None:
    typer.echo(f"{view['schedule']['id']}: {'paused' if view['paused'] else 'running'}")


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object")
    return value


def _iso(moment: datetime) -> str:
    return moment.isoformat() + ("" if moment.tzinfo else "Z")
