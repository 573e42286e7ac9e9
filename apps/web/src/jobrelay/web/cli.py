"""The ``jobrelay`` command: serve the API, run everything locally, dispatch from a shell."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from .ops_client import OpsClient

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)


def _use_dev_stack() -> None:
    """Take the addresses of a ``jobrelay dev`` running here for settings left unset."""
    from . import dev_env
    from .settings import CliSettings

    dev_env.load_into(os.environ, CliSettings().dev_dir)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (JOBRELAY_WEB_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (JOBRELAY_WEB_PORT)")] = None,
) -> None:
    """Serve the HTTP API with uvicorn (settings from the environment)."""
    import uvicorn
    from jobrelay.job_engine import configure_logging

    from .settings import WebSettings

    settings = WebSettings()
    configure_logging("INFO", settings.log_format)
    uvicorn.run(
        "jobrelay.web.main:app",
        host=host or settings.host,
        port=port or settings.port,
        # JSON lines: uvicorn's own loggers go through the root handler too.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )


@app.command()
def dev(
    data_dir: Annotated[Path, typer.Option(help="where logs and Redis AOF go")] = Path(
        ".jobrelay-dev"
    ),
    port: Annotated[int | None, typer.Option(help="web port (default: a free one)")] = None,
    once: Annotated[bool, typer.Option(help="stop after the demo job instead of serving")] = False,
    demo: Annotated[bool, typer.Option(help="dispatch a demo job and follow it")] = True,
) -> None:
    """Run Redis, the Temporal dev server, both workers and the web app locally."""
    from .dev import run_dev

    raise typer.Exit(run_dev(data_dir=data_dir, web_port=port, once=once, demo=demo))


@app.command()
def dispatch(
    name: Annotated[str, typer.Argument(help="job name, e.g. demo.countdown")],
    payload: Annotated[str, typer.Option(help="payload as a JSON object")] = "{}",
    job_id: Annotated[str | None, typer.Option(help="idempotency key")] = None,
    confirm: Annotated[str, typer.Option(help="admission or pickup")] = "admission",
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            help="a JSON Lines file, one payload per line, dispatched in batches",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    id_field: Annotated[
        str | None,
        typer.Option(help="with --from-file: the payload field that is each job's id"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="with --from-file: one JSON result per line")
    ] = False,
) -> None:
    """Dispatch one job, or every line of a file, with the environment's settings.

    Settings the environment leaves unset come from a ``jobrelay dev``
    running in this directory (``.jobrelay-dev/env``), else their defaults.
    """
    from jobrelay.dispatcher import JobrelayError, dispatch_job

    _use_dev_stack()
    if from_file is not None:
        if payload != "{}" or job_id is not None or confirm != "admission":
            raise typer.BadParameter(
                "cannot be combined with --payload, --job-id or --confirm",
                param_hint="--from-file",
            )
        raise typer.Exit(_dispatch_file(from_file, name, id_field=id_field, as_json=as_json))
    data: Any = _json_object(payload)
    if confirm not in ("admission", "pickup"):
        raise typer.BadParameter("must be admission or pickup", param_hint="--confirm")
    try:
        receipt = asyncio.run(dispatch_job(name, data, job_id=job_id, confirm=confirm))  # type: ignore[arg-type]
    except JobrelayError as exc:
        typer.echo(_one_line(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(receipt.model_dump_json())


def _dispatch_file(path: Path, name: str, *, id_field: str | None, as_json: bool) -> int:
    """Dispatch the file; print a summary table (or JSON lines); 1 when any line failed."""
    from jobrelay.dispatcher import DispatcherSettings
    from rich.console import Console
    from rich.table import Table

    from .bulk import dispatch_file

    console = Console(stderr=True)
    results = dispatch_file(
        path,
        name,
        id_field=id_field,
        batch_size=DispatcherSettings().max_batch_size,
        show_progress=console.is_terminal and not as_json,
    )
    failed = [r for r in results if r.error is not None]
    if as_json:
        for result in results:
            typer.echo(json.dumps(result.as_json()))
        return 1 if failed else 0
    counts: dict[tuple[str, str, bool], int] = {}
    for r in results:
        if r.error is None:
            key = (r.engine or "", r.reason or "", r.deduplicated)
            counts[key] = counts.get(key, 0) + 1
    table = Table(title=f"{path.name}: {len(results) - len(failed)} of {len(results)} dispatched")
    for column in ("engine", "reason", "deduplicated", "jobs"):
        table.add_column(column, justify="right" if column == "jobs" else "left")
    for (engine, reason, dup), n in sorted(counts.items()):
        table.add_row(engine, reason, "yes" if dup else "no", str(n))
    out = Console()
    out.print(table)
    for r in failed:
        typer.echo(f"line {r.line}: {r.error}")
    return 1 if failed else 0


@app.command()
def status(job_id: Annotated[str, typer.Argument(help="the job id")]) -> None:
    """Print a job's status as JSON (settings as for ``dispatch``)."""
    from jobrelay.dispatcher import JobrelayError, get_job_status

    _use_dev_stack()
    try:
        status_ = asyncio.run(get_job_status(job_id))
    except JobrelayError as exc:
        typer.echo(_one_line(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(status_.model_dump_json(indent=2))


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--payload")
    return value


def _ops(call: Callable[[OpsClient], None]) -> None:
    """Run an operator command against the web app, with the dev stack's address if any."""
    from jobrelay.dispatcher import DispatcherSettings

    from .ops_client import OpsClient, OpsError
    from .settings import CliSettings

    _use_dev_stack()
    try:
        with OpsClient(CliSettings().url, DispatcherSettings().api_token) as client:
            call(client)
    except OpsError as exc:
        typer.echo(_one_line(exc), err=True)
        raise typer.Exit(1) from None


JsonOption = Annotated[bool, typer.Option("--json", help="the API's JSON instead of a table")]


@app.command()
def queues(as_json: JsonOption = False) -> None:
    """Each queue's ready, delayed and dead messages, live workers and pause (JOBRELAY_URL)."""
    from rich.console import Console

    from .ops_client import print_json, queues_table

    def show(client: OpsClient) -> None:
        answer = client.call("GET", "/queues")
        print_json(answer) if as_json else Console().print(queues_table(answer))

    _ops(show)


@app.command()
def workers(as_json: JsonOption = False) -> None:
    """The live workers of each queue, both engines (JOBRELAY_URL)."""
    from rich.console import Console

    from .ops_client import print_json, workers_table

    def show(client: OpsClient) -> None:
        answer = client.call("GET", "/workers")
        print_json(answer) if as_json else Console().print(workers_table(answer))

    _ops(show)


@app.command()
def dead(
    queue: Annotated[str, typer.Option(help="the queue whose dead letters to list")] = "default",
    as_json: JsonOption = False,
) -> None:
    """A queue's dead letters: job, reason, when (JOBRELAY_URL)."""
    from rich.console import Console

    from .ops_client import dead_letters_table, print_json

    def show(client: OpsClient) -> None:
        answer = client.call("GET", f"/dead-letters?queue={queue}")
        print_json(answer) if as_json else Console().print(dead_letters_table(queue, answer))

    _ops(show)


@app.command()
def pause(queue: Annotated[str, typer.Argument(help="the queue to pause")]) -> None:
    """Pause a queue: its workers take nothing new, its jobs wait (no fallback, no deadline)."""
    _ops(lambda client: _changed(client.call("POST", f"/queues/{queue}/pause")))


@app.command()
def resume(queue: Annotated[str, typer.Argument(help="the queue to resume")]) -> None:
    """Resume a paused queue."""
    _ops(lambda client: _changed(client.call("POST", f"/queues/{queue}/resume")))


@app.command()
def retry(
    job_id: Annotated[str, typer.Argument(help="a failed, dead or cancelled job")],
    fresh: Annotated[bool, typer.Option(help="run its finished steps again too")] = False,
) -> None:
    """Run a failed, dead or cancelled job again (JOBRELAY_URL); prints the new receipt."""
    suffix = "?fresh=true" if fresh else ""
    _ops(
        lambda client: typer.echo(json.dumps(client.call("POST", f"/jobs/{job_id}/retry{suffix}")))
    )


def _changed(answer: dict[str, Any]) -> None:
    state = "paused" if answer["paused"] else "running"
    note = "" if answer["changed"] else " (it already was)"
    typer.echo(f"{answer['queue']}: {state}{note}")


def _one_line(exc: BaseException) -> str:
    """``error: Type: message`` on one line, whatever the message's own line breaks."""
    return " ".join(f"error: {type(exc).__name__}: {exc}".split())


def main() -> None:
    """Console-script entry point: any failure is one line on stderr and exit code 1."""
    try:
        app()
    except Exception as exc:
        typer.echo(_one_line(exc), err=True)
        raise SystemExit(1) from None
