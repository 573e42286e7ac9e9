"""``jobrelay-worker check``: is this host's worker alive and can it reach its engine?"""

from __future__ import annotations

import asyncio

import redis
from jobrelay.dispatcher import DispatcherSettings
from jobrelay.queue import Keys, QueueSettings, redis_client

from .config import WorkerConfig
from .status import WorkerStatus, pid_alive, read_statuses


def check_health(config: WorkerConfig, *, process_only: bool = False) -> tuple[bool, str]:
    """``(healthy, why)`` for every worker with a status file in the status directory.

    ``process_only`` asks only whether each worker process lives.
    """
    worker_settings, queue_settings = config.worker, config.queue
    dispatcher_settings = config.dispatcher
    statuses = read_statuses(worker_settings.status_dir)
    if not statuses:
        return False, f"no worker is running (no status file in {worker_settings.status_dir})"
    for status in statuses:
        if not pid_alive(status.pid):
            return False, f"{status.engine} worker (pid {status.pid}) is not running"
        if process_only:
            continue
        ok, why = (
            _check_dramatiq(status, queue_settings)
            if status.engine == "dramatiq"
            else _check_temporal(dispatcher_settings, worker_settings.check_timeout_s)
        )
        if not ok:
            return False, why
    engines = ", ".join(f"{s.engine} (pid {s.pid})" for s in statuses)
    return True, f"{'alive' if process_only else 'healthy'}: {engines}"


def _check_dramatiq(status: WorkerStatus, settings: QueueSettings) -> tuple[bool, str]:
    client = redis_client(settings)
    keys = Keys(status.prefix)
    try:
        client.ping()
        # Heartbeat keys expire after the TTL: existing means fresh.
        alive = [bool(client.exists(keys.worker(wid))) for wid in status.worker_ids]
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        return False, f"Redis unreachable at {settings.redis_url}: {exc}"
    stale = [wid for wid, ok in zip(status.worker_ids, alive, strict=True) if not ok]
    if stale:
        return False, f"no fresh heartbeat from {', '.join(stale)}"
    return True, "ok"


def _check_temporal(settings: DispatcherSettings, timeout_s: float) -> tuple[bool, str]:
    from jobrelay.engines.temporal import connect

    async def probe() -> None:
        client = await connect(settings.temporal_connection())
        await client.service_client.check_health()

    try:
        asyncio.run(asyncio.wait_for(probe(), timeout=timeout_s))
    except Exception as exc:
        return False, f"Temporal unreachable at {settings.temporal_address}: {exc!r}"
    return True, "ok"
