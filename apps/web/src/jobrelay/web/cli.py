"""The ``jobrelay`` command: serve the API, run everything locally, dispatch from a shell."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (JOBRELAY_WEB_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (JOBRELAY_WEB_PORT)")] = None,
) -> None:
    """Serve the HTTP API with uvicorn (settings from the environment)."""
    import uvicorn

    from .settings import WebSettings

    settings = WebSettings()
    uvicorn.run("jobrelay.web.main:app", host=host or settings.host, port=port or settings.port)


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
) -> None:
    """Dispatch one job with the environment's settings and print the receipt."""
    from jobrelay.dispatcher import dispatch_job

    data: Any = _json_object(payload)
    if confirm not in ("admission", "pickup"):
        raise typer.BadParameter("must be admission or pickup", param_hint="--confirm")
    receipt = asyncio.run(dispatch_job(name, data, job_id=job_id, confirm=confirm))  # type: ignore[arg-type]
    typer.echo(receipt.model_dump_json())


@app.command()
def status(job_id: Annotated[str, typer.Argument(help="the job id")]) -> None:
    """Print a job's status as JSON."""
    from jobrelay.dispatcher import get_job_status

    typer.echo(asyncio.run(get_job_status(job_id)).model_dump_json(indent=2))


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--payload")
    return value


def main() -> None:
    """Console-script entry point."""
    app()
