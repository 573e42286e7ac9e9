"""A bare worker process for the crash tests: ``python -m dramatiq_test_worker``.

A test harness, so it lives with the tests. It reads REDIS_URL,
JOBRELAY_PREFIX and JOBRELAY_JOB_MODULES from the environment, serves the
queues named with ``--queue`` and sends due wake-ups back every
``--pump-interval`` seconds until SIGTERM or SIGINT. The real worker CLI,
with heartbeats and health checks, is ``jobrelay-worker``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.job_engine import JobEngineSettings, discover_jobs
from jobrelay.queue import JobStore, QueueSettings, redis_client


def main(argv: list[str] | None = None) -> None:
    """Run a worker until a stop signal arrives."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queue", action="append", dest="queues")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--pump-interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    settings = QueueSettings()
    discover_jobs(JobEngineSettings().job_modules)
    store = JobStore.from_settings(redis_client(settings), settings)
    adapter = DramatiqAdapter(make_broker(settings), store, settings)
    worker = start_worker(adapter, args.queues, threads=args.threads)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("worker ready", flush=True)
    while not stop.wait(args.pump_interval):
        try:
            adapter.pump_wakeups()
        except Exception:
            logging.getLogger("jobrelay.dramatiq").exception("pumping wake-ups failed")
    worker.stop()


if __name__ == "__main__":
    main()
