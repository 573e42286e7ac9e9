"""One Dramatiq worker process serving one queue (started by ``run``'s supervisor)."""

from __future__ import annotations

import logging
import os

from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import WorkerStats, beat_and_maintain, drain, start_worker
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    JobStore,
    RedisUnavailable,
    WorkerRegistry,
    get_queue,
    redis_client,
)

from .config import WorkerConfig
from .identity import worker_info
from .periodic import Periodic
from .signals import StopSignals

logger = logging.getLogger("jobrelay.worker")

EXIT_OK = 0
EXIT_FORCED = 1


def serve_queue(
    queue: str, worker_id: str, config: WorkerConfig, *, parent_pid: int | None = None
) -> int:
    """Serve ``queue`` until SIGTERM (or the parent's death); returns the exit code."""
    settings, worker_settings = config.queue, config.worker
    signals = StopSignals(supervised=parent_pid is not None)
    spec = get_queue(queue)
    threads = worker_settings.threads_for(spec.name)
    discover_jobs(config.jobs.job_modules)
    client = redis_client(settings)
    broker = make_broker(
        settings, client=client, heartbeat_timeout_ms=worker_settings.broker_heartbeat_timeout_ms
    )
    stats = WorkerStats()
    broker.add_middleware(stats)
    if worker_settings.metrics_port is not None:
        # Only now: prometheus-client must not be imported before the
        # supervisor set up its multiprocess mode.
        from .job_metrics import JobMetrics

        broker.add_middleware(JobMetrics())
    adapter = DramatiqAdapter(broker, JobStore.from_settings(client, settings), settings)
    worker = start_worker(
        adapter, [spec.name], threads=threads, worker_timeout_ms=worker_settings.worker_timeout_ms
    )
    registry = WorkerRegistry.from_settings(client, settings)
    info = worker_info(worker_id, [spec.name], {spec.name: threads}, engine=ENGINE_DRAMATIQ)

    def heartbeat() -> None:
        done, failed = stats.counts()
        registry.heartbeat(info.model_copy(update={"jobs_done": done, "jobs_failed": failed}))

    dramatiq_queues = sorted(worker.consumers)
    keeper = Periodic(
        "broker-maintenance",
        worker_settings.maintenance_interval_s,
        lambda: beat_and_maintain(broker, dramatiq_queues),
    ).start()
    beat = Periodic(
        "heartbeat", worker_settings.heartbeat_every(settings.heartbeat_ttl_s), heartbeat
    ).start()
    logger.info("worker %s serving %s with %d threads", worker_id, spec.name, threads)

    while not signals.stop.wait(0.5):
        if parent_pid is not None and os.getppid() != parent_pid:
            logger.warning("supervisor %d is gone: stopping", parent_pid)
            signals.stop.set()
    # Leave the registry first: while draining this worker takes no new work.
    beat.stop()
    try:
        registry.deregister(worker_id, [spec.name])
    except RedisUnavailable as exc:
        logger.warning("could not deregister %s: %s", worker_id, exc)
    # The broker heartbeat goes on until the end, or another worker would
    # take the in-flight messages this one is still finishing.
    report = drain(worker, stats, grace_s=worker_settings.grace_period_s, force=signals.force)
    keeper.stop()
    logger.info(
        "worker %s stopped: %d prefetched and %d unfinished messages requeued",
        worker_id,
        report.requeued,
        report.abandoned,
    )
    return EXIT_FORCED if signals.force.is_set() else EXIT_OK
