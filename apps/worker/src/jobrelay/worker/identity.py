from __future__ import annotations

import os
import socket
import time
import uuid
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from jobrelay.queue import WorkerInfo


@cache
def worker_version() -> str:
    """The installed version of jobrelay-worker."""
    try:
        return version("jobrelay-worker")
    except PackageNotFoundError:
        return "unknown"


def new_worker_id(queue: str, *, host: str | None = None) -> str:
    """``host:pid:random:queue``: unique per run and readable in a worker list."""
    host = host or socket.gethostname()
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:6]}:{queue}"


def worker_info(
    worker_id: str, queues: list[str], concurrency: dict[str, int], *, engine: str
) -> WorkerInfo:
    """What this process reports in its first heartbeat."""
    return WorkerInfo(
        worker_id=worker_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        engine=engine,
        queues=queues,
        concurrency=concurrency,
        version=worker_version(),
        started_at=time.time(),
    )
