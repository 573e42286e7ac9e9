"""The ``jobrelay`` command: serve the API, run everything locally, dispatch from a shell."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .ops_cli import one_line as _one_line
from .ops_cli import ops
from .schedules_cli import schedules

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)
# The operator's commands (jobs, job, retry, cancel, queues...): top-level, over HTTP.
app.add_typer(ops)
app.add_typer(schedules, name="schedules")


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


def main() -> None:
    """Console-script entry point: any failure is one line on stderr and exit code 1.

    The process ends with ``os._exit`` once its output is flushed: a Temporal
    connect still in flight in the SDK's Rust runtime (a dispatch that found
    no server, say) panics and aborts the interpreter if it completes while
    Python finalizes (temporalio/sdk-python#300), which would turn a clean
    one-line error into SIGABRT.
    """
    code = 0
    try:
        app()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            typer.echo(exc.code, err=True)
            code = 1
        else:
            code = exc.code or 0
    except Exception as exc:
        typer.echo(_one_line(exc), err=True)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
