"""The operator's commands: ``jobrelay jobs|job|retry|cancel|summary|queues|workers|dead|
pause|resume``, over HTTP to a running web app (``JOBRELAY_URL``, ``JOBRELAY_API_TOKEN``).

Each prints a rich table, or with ``--json`` the API's JSON; an unreachable
server, a 401, a 404 or a refused argument is one error line and exit 1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from .ops_client import OpsClient

ops = typer.Typer()

JsonOption = Annotated[bool, typer.Option("--json", help="the API's JSON instead of a table")]
StateOption = Annotated[
    str | None, typer.Option(help="queued, running, sleeping, succeeded, failed, cancelled, dead")
]
QueueOption = Annotated[str | None, typer.Option(help="the queue")]
NameOption = Annotated[str | None, typer.Option(help="the job name, e.g. demo.countdown")]
EngineOption = Annotated[str | None, typer.Option(help="dramatiq or temporal")]


def one_line(exc: BaseException) -> str:
    """``error: Type: message`` on one line, whatever the message's own line breaks."""
    return " ".join(f"error: {type(exc).__name__}: {exc}".split())


def run_ops(call: Callable[[OpsClient], None]) -> None:
    """Run an operator command against the web app, with the dev stack's address if any."""
    from jobrelay.dispatcher import DispatcherSettings

    from . import dev_env
    from .ops_client import OpsClient, OpsError
    from .settings import CliSettings

    dev_env.load_into(os.environ, CliSettings().dev_dir)
    try:
        with OpsClient(CliSettings().url, DispatcherSettings().api_token) as client:
            call(client)
    except OpsError as exc:
        typer.echo(one_line(exc), err=True)
        raise typer.Exit(1) from None


def show(answer: Any, as_json: bool, table: Callable[[Any], Any]) -> None:
    """The API's answer as JSON, or rendered by ``table``."""
    from rich.console import Console

    from .ops_tables import print_json

    if as_json:
        print_json(answer)
    else:
        Console(width=200).print(table(answer))


def _filters(
    state: str | None, queue: str | None, name: str | None, engine: str | None
) -> dict[str, Any]:
    return {"state": state, "queue": queue, "name": name, "engine": engine}


@ops.command()
def jobs(
    state: StateOption = None,
    queue: QueueOption = None,
    name: NameOption = None,
    engine: EngineOption = None,
    since: Annotated[
        datetime | None, typer.Option(help="created at or after (UTC when no zone is given)")
    ] = None,
    limit: Annotated[int, typer.Option(help="jobs per page (at most 500)")] = 50,
    cursor: Annotated[str | None, typer.Option(help="the page after this cursor")] = None,
    as_json: JsonOption = False,
) -> None:
    """Jobs of both engines, newest first, filtered; prints the cursor of the next page."""
    from .ops_tables import jobs_table

    params = _filters(state, queue, name, engine) | {"limit": limit, "cursor": cursor}
    if since is not None:
        params["since"] = since.isoformat() + ("" if since.tzinfo else "Z")
    run_ops(lambda client: show(client.call("GET", "/jobs", params), as_json, jobs_table))


@ops.command()
def job(
    job_id: Annotated[str, typer.Argument(help="the job id")], as_json: JsonOption = False
) -> None:
    """One job in detail: its fields, attempts and steps, and its Temporal run."""
    from .ops_tables import job_view

    run_ops(lambda client: show(client.call("GET", f"/jobs/{job_id}"), as_json, job_view))


@ops.command()
def summary(as_json: JsonOption = False) -> None:
    """Engines and breaker, live workers, jobs by state, the last hour's fallbacks, queues."""
    from .ops_tables import summary_view

    run_ops(lambda client: show(client.call("GET", "/summary"), as_json, summary_view))


@ops.command()
def retry(
    job_id: Annotated[
        str | None, typer.Argument(help="a failed, dead or cancelled job; none: use filters")
    ] = None,
    state: StateOption = None,
    queue: QueueOption = None,
    name: NameOption = None,
    engine: EngineOption = None,
    limit: Annotated[int | None, typer.Option(help="most jobs to retry (bulk)")] = None,
    every: Annotated[bool, typer.Option("--all", help="bulk: every retryable job")] = False,
    fresh: Annotated[bool, typer.Option(help="run its finished steps again too")] = False,
) -> None:
    """Run a failed, dead or cancelled job again, or every one the filters select (bulk)."""
    if job_id is not None:
        path = f"/jobs/{job_id}/retry"
        run_ops(lambda c: typer.echo(json.dumps(c.call("POST", path, {"fresh": fresh or None}))))
        return
    params = _bulk_params(state, queue, name, engine, limit, every)
    params["fresh"] = fresh or None
    run_ops(lambda client: _bulk_done(client.call("POST", "/jobs/retry", params)))


@ops.command()
def cancel(
    job_id: Annotated[str | None, typer.Argument(help="the job to stop; none: use filters")] = None,
    state: StateOption = None,
    queue: QueueOption = None,
    name: NameOption = None,
    engine: EngineOption = None,
    limit: Annotated[int | None, typer.Option(help="most jobs to cancel (bulk)")] = None,
    every: Annotated[bool, typer.Option("--all", help="bulk: every unfinished job")] = False,
) -> None:
    """Ask a job to stop, or every queued, running or sleeping job the filters select (bulk)."""
    if job_id is not None:
        path = f"/jobs/{job_id}/cancel"
        run_ops(lambda client: _cancelled(client.call("POST", path)))
        return
    params = _bulk_params(state, queue, name, engine, limit, every)
    run_ops(lambda client: _bulk_done(client.call("POST", "/jobs/cancel", params)))


def _bulk_params(
    state: str | None,
    queue: str | None,
    name: str | None,
    engine: str | None,
    limit: int | None,
    every: bool,
) -> dict[str, Any]:
    params = _filters(state, queue, name, engine)
    if not every and all(value is None for value in params.values()):
        # A bulk action over everything is never a slip of the keyboard.
        raise typer.BadParameter("give a JOB_ID, a filter (--state, --queue...) or --all")
    return params | {"limit": limit}


def _bulk_done(outcome: dict[str, Any]) -> None:
    verb = "retried" if outcome["action"] == "retry" else "cancelled"
    line = (
        f"{outcome['acted']} {verb}, {outcome['skipped']} skipped, {outcome['failed']} failed "
        f"of {outcome['matched']} matched"
    )
    if outcome["more"]:
        line += f"; more match: run it again (at most {outcome['limit']} per call)"
    typer.echo(line)
    if outcome["failed"]:
        raise typer.Exit(1)


def _cancelled(answer: dict[str, Any]) -> None:
    done = "cancel requested" if answer["cancelled"] else "already finished"
    typer.echo(f"{answer['job_id']}: {done}")


@ops.command()
def queues(as_json: JsonOption = False) -> None:
    """Each queue: jobs by state, messages, throughput, live workers and pause; then the
    jobs under flow control, with those waiting for a slot or throttled."""
    from rich.console import Group

    from .ops_tables import flow_table, queues_table

    def tables(answer: list[dict[str, Any]]) -> Any:
        flows = flow_table(answer)
        return queues_table(answer) if flows is None else Group(queues_table(answer), flows)

    run_ops(lambda client: show(client.call("GET", "/queues"), as_json, tables))


@ops.command()
def workers(as_json: JsonOption = False) -> None:
    """The live workers of each queue, both engines."""
    from .ops_tables import workers_table

    run_ops(lambda client: show(client.call("GET", "/workers"), as_json, workers_table))


@ops.command()
def dead(
    queue: Annotated[str, typer.Option(help="the queue whose dead letters to list")] = "default",
    as_json: JsonOption = False,
) -> None:
    """A queue's dead letters: job, reason, when."""
    from .ops_tables import dead_letters_table

    def letters(client: OpsClient) -> None:
        answer = client.call("GET", "/dead-letters", {"queue": queue})
        show(answer, as_json, lambda found: dead_letters_table(queue, found))

    run_ops(letters)


@ops.command()
def pause(queue: Annotated[str, typer.Argument(help="the queue to pause")]) -> None:
    """Pause a queue: its workers take nothing new, its jobs wait (no fallback, no deadline)."""
    run_ops(lambda client: _changed(client.call("POST", f"/queues/{queue}/pause")))


@ops.command()
def resume(queue: Annotated[str, typer.Argument(help="the queue to resume")]) -> None:
    """Resume a paused queue."""
    run_ops(lambda client: _changed(client.call("POST", f"/queues/{queue}/resume")))


def _changed(answer: dict[str, Any]) -> None:
    state = "paused" if answer["paused"] else "running"
    note = "" if answer["changed"] else " (it already was)"
    typer.echo(f"{answer['queue']}: {state}{note}")
