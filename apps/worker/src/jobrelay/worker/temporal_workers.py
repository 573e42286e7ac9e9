"""``jobrelay-worker temporal``: Temporal workers for the fallback path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from datetime import timedelta

from jobrelay.dispatcher import DispatcherSettings
from jobrelay.engines.temporal import TemporalUnavailable, connect
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.queue import (
    ENGINE_TEMPORAL,
    JobStore,
    RedisUnavailable,
    WorkerInfo,
    WorkerRegistry,
    redis_client,
)
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from .config import WorkerConfig
from .identity import new_worker_id, worker_info
from .status import WorkerStatus, remove_status, write_status

logger = logging.getLogger("jobrelay.worker")

EXIT_FORCED = 1


def _runtime(metrics_port: int | None) -> Runtime | None:
    if metrics_port is None:
        return None
    # The SDK's own Prometheus exporter: workflow and activity counts and
    # latencies, task slots and polls, per task queue.
    telemetry = TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{metrics_port}"))
    return Runtime(telemetry=telemetry)


async def _connect_until(
    settings: DispatcherSettings, stop: asyncio.Event, runtime: Runtime | None
) -> Client | None:
    # A worker that starts before its server waits for it instead of crash-looping.
    delay = 0.5
    while not stop.is_set():
        try:
            return await connect(settings.temporal_connection(), runtime=runtime)
        except TemporalUnavailable as exc:
            logger.warning("%s; retrying in %.1fs", exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 10.0)
    return None


async def _heartbeats(
    registry: WorkerRegistry, info: WorkerInfo, interval_s: float, stop: asyncio.Event
) -> None:
    # Liveness for the operator's worker list only: the dispatcher never
    # counts these, since a Temporal worker cannot take a Dramatiq message.
    while not stop.is_set():
        try:
            await asyncio.to_thread(registry.heartbeat, info)
        except RedisUnavailable as exc:
            # This worker is the fallback for exactly this case: keep serving.
            logger.debug("heartbeat skipped: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
    with contextlib.suppress(RedisUnavailable):
        await asyncio.to_thread(
            registry.deregister, info.worker_id, info.queues, engine=ENGINE_TEMPORAL
        )


async def serve_temporal(queues: list[str], config: WorkerConfig) -> int:
    """Poll the task queues of ``queues`` until SIGTERM, then drain; returns the exit code.

    A first SIGTERM/SIGINT stops polling and waits up to the grace period for
    running steps; a second one exits at once (Temporal retries the steps).
    """
    settings, queue_settings, worker_settings = config.dispatcher, config.queue, config.worker
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            logger.warning("second stop signal: exiting without draining")
            os._exit(EXIT_FORCED)
        logger.info("stop signal: draining Temporal workers")
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    client = await _connect_until(settings, stop, _runtime(worker_settings.metrics_port))
    if client is None:
        return 0
    redis = redis_client(queue_settings)
    store = JobStore.from_settings(redis, queue_settings)
    job_modules = config.jobs.job_modules
    workers = [
        make_worker(
            client,
            queue_settings,
            queue,
            store=store,
            job_modules=job_modules,
            max_concurrent_activities=worker_settings.threads_for(queue),
            graceful_shutdown_timeout=timedelta(seconds=worker_settings.grace_period_s),
        )
        for queue in queues
    ]
    runs = [asyncio.create_task(w.run()) for w in workers]
    info = worker_info(
        new_worker_id(ENGINE_TEMPORAL),
        queues,
        {q: worker_settings.threads_for(q) for q in queues},
        engine=ENGINE_TEMPORAL,
    )
    beats = asyncio.create_task(
        _heartbeats(
            WorkerRegistry.from_settings(redis, queue_settings),
            info,
            worker_settings.heartbeat_every(queue_settings.heartbeat_ttl_s),
            stop,
        )
    )
    write_status(
        worker_settings.status_dir,
        WorkerStatus(
            engine="temporal",
            pid=os.getpid(),
            prefix=queue_settings.prefix,
            queues=queues,
            worker_ids=[queue_settings.keys.task_queue(q) for q in queues],
        ),
    )
    logger.info("temporal workers polling %s", ", ".join(w.task_queue for w in workers))
    try:
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *runs], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        stop.set()
        await beats
        failed = [t for t in runs if t in done]
        # Worker.shutdown stops polling and lets running activities finish
        # within graceful_shutdown_timeout before cancelling them.
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        results = await asyncio.gather(*runs, return_exceptions=True)
        for queue, result in zip(queues, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("temporal worker for %s failed: %r", queue, result)
        return 1 if failed else 0
    finally:
        remove_status(worker_settings.status_dir, "temporal")
