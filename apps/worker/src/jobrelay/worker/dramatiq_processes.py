"""``jobrelay-worker run``: a supervised Dramatiq worker process per queue."""

from __future__ import annotations

import asyncio
import os
import sys
from functools import partial

from jobrelay.job_engine import discover_jobs

from . import metrics
from .child import serve_queue
from .config import WorkerConfig
from .procs import ChildProcess, can_fork, exec_child, fork_child
from .reconcile import run_reconciler
from .schedules import run_schedules
from .supervisor import Background, Supervisor


def child_argv(queue: str, worker_id: str) -> list[str]:
    """The command line of a restarted worker: a fresh interpreter."""
    return [
        sys.executable, "-m", "jobrelay.worker", "child",
        "--queue", queue, "--worker-id", worker_id, "--parent-pid", str(os.getpid()),
    ]  # fmt: skip


def run_dramatiq(queues: list[str], config: WorkerConfig) -> int:
    """Start, supervise and finally stop the workers of ``queues``; returns the exit code.

    With ``config.worker.metrics_port``, call ``metrics.prepare_multiprocess`` first.
    """
    settings, queue_settings = config.worker, config.queue
    # Imported before forking, so each child starts with every job loaded.
    discover_jobs(config.jobs.job_modules)

    def launch(queue: str, worker_id: str, boot: bool) -> ChildProcess:
        if boot and can_fork():
            return fork_child(
                partial(serve_queue, queue, worker_id, config, parent_pid=os.getpid())
            )
        return exec_child(child_argv(queue, worker_id))

    background: list[Background] = []
    if settings.host_reconciler:
        background.append(
            partial(
                run_reconciler,
                queue_settings=queue_settings,
                settings=config.dispatcher,
                interval_s=settings.reconcile_interval_s,
            )
        )
    if settings.scheduler:
        background.append(
            partial(
                run_schedules,
                queue_settings=queue_settings,
                settings=config.dispatcher,
                interval_s=settings.scheduler_interval_s,
            )
        )
    supervisor = Supervisor(
        queues,
        settings,
        prefix=queue_settings.prefix,
        launch=launch,
        background=background,
        reaped=metrics.process_exited if settings.metrics_port is not None else None,
    )
    supervisor.boot()
    if settings.metrics_port is not None:
        # Only after boot has forked the children: forking a threaded process is unsafe.
        metrics.serve(settings.metrics_port)
    return asyncio.run(supervisor.run())
