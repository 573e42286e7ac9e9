"""The ``jobrelay-worker`` console script: wiring only, the work is elsewhere."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from jobrelay.job_engine import configure_logging

from .settings import WorkerSettings, resolve_queues

if TYPE_CHECKING:
    from .config import WorkerConfig

app = typer.Typer(
    help="jobrelay workers: Dramatiq per queue (run), Temporal fallback (temporal), check.",
    no_args_is_help=True,
    add_completion=False,
)

QueueOption = Annotated[
    list[str] | None,
    typer.Option("--queue", "-q", help="A queue to serve; repeat for more. All when omitted."),
]


def _setup_logging(settings: WorkerSettings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    if settings.tracing:
        # Every process of the worker (supervisor and children) exports its own spans.
        from jobrelay.engines.tracing import configure_tracing

        configure_tracing("jobrelay-worker")


def _configure_jobs(config: WorkerConfig) -> None:
    """Give the built-in jobs their API settings, read at the edge, not in the library."""
    from jobrelay.job_engine.jobs.api import configure_apis

    configure_apis(config.apis)


@app.command()
def run(queue: QueueOption = None) -> None:
    """Run Dramatiq workers, one process per queue, plus the reconciler loop."""
    settings = WorkerSettings()
    if settings.metrics_port is not None:
        # First: nothing may import prometheus-client before its multiprocess mode is set.
        from .metrics import prepare_multiprocess

        prepare_multiprocess()
    from .config import WorkerConfig
    from .dramatiq_processes import run_dramatiq

    config = WorkerConfig.from_env(settings)
    _setup_logging(settings)
    _configure_jobs(config)  # before the children fork: each starts configured
    names = [spec.name for spec in resolve_queues(queue)]
    raise typer.Exit(run_dramatiq(names, config))


@app.command()
def temporal(queue: QueueOption = None) -> None:
    """Run Temporal workers for the fallback path; SIGTERM drains them."""
    from .config import WorkerConfig
    from .temporal_workers import serve_temporal

    config = WorkerConfig.from_env()
    _setup_logging(config.worker)
    _configure_jobs(config)
    code = asyncio.run(serve_temporal([spec.name for spec in resolve_queues(queue)], config))
    raise typer.Exit(code)


@app.command()
def check(
    process_only: Annotated[
        bool,
        typer.Option(
            "--process-only",
            help="Only ask whether the worker process lives (a liveness probe: an engine"
            " outage is no reason to restart it).",
        ),
    ] = False,
) -> None:
    """Exit 0 when this host's worker is alive and reaches its engine, else 1."""
    from .config import WorkerConfig
    from .health import check_health

    ok, why = check_health(WorkerConfig.from_env(), process_only=process_only)
    typer.echo(why, err=not ok)
    sys.stdout.flush()
    sys.stderr.flush()
    # Not a normal exit: a Temporal connect cut by the timeout still runs in
    # the SDK's Rust runtime, and when it completes after the interpreter
    # has begun to finalize it panics and aborts the process (SIGABRT), which
    # a probe would read as a crash instead of "unhealthy".
    os._exit(0 if ok else 1)


@app.command(hidden=True)
def child(
    queue: Annotated[str, typer.Option("--queue")],
    worker_id: Annotated[str, typer.Option("--worker-id")],
    parent_pid: Annotated[int | None, typer.Option("--parent-pid")] = None,
) -> None:
    """One queue's worker process (started by ``run``)."""
    from .child import serve_queue
    from .config import WorkerConfig

    config = WorkerConfig.from_env()
    _setup_logging(config.worker)
    _configure_jobs(config)
    code = serve_queue(queue, worker_id, config, parent_pid=parent_pid)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads still running an abandoned job (or a sync step in the loop's
    # executor, which interpreter exit would join) must not delay the exit.
    os._exit(code)


def main() -> None:
    """Entry point of the ``jobrelay-worker`` console script."""
    app()
