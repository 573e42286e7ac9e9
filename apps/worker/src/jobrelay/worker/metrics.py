"""Prometheus metrics of ``jobrelay-worker run``, served by the supervisor.

Each queue process counts its own messages; prometheus-client's
multiprocess mode keeps the counts in files under one directory, and the
supervisor serves their sum on ``WORKER_METRICS_PORT``. One scrape target
per host then covers every queue, and a crashed child's counts survive it.
Multiprocess mode is chosen when prometheus-client is first imported, so
:func:`prepare_multiprocess` must run before anything imports it (this
module imports nothing that does; the middleware is in ``job_metrics``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess() -> Path:
    """Give this process and its children an empty metrics directory.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` when set (emptied of an earlier run's
    files), else a new temporary directory, removed when this process exits.
    """
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before multiprocess mode was set up")
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        path = Path(configured)
    else:
        path = Path(tempfile.mkdtemp(prefix="jobrelay-metrics-"))
        # Forked children leave with os._exit, so only the supervisor runs this.
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def serve(port: int) -> None:
    """Serve the sum of every process's metrics on ``port`` (a daemon thread)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, registry=registry)


def process_exited(pid: int) -> None:
    """Drop a dead child's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
