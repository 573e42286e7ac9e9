"""The ``run`` parent: one child process per queue, restarted when it dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from .identity import new_worker_id
from .procs import ChildProcess
from .settings import WorkerSettings
from .signals import DRAIN_SIGNAL, FORCE_SIGNAL
from .status import WorkerStatus, remove_status, write_status

logger = logging.getLogger("jobrelay.worker")

# A child that lived this long before dying starts again without backoff.
_STABLE_AFTER_S = 60.0

# (queue, worker_id, at_boot) -> a started worker process.
Launch = Callable[[str, str, bool], ChildProcess]
Background = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class Child:
    queue: str
    worker_id: str
    proc: ChildProcess | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    restart_at: float | None = None
    exit_codes: list[int] = field(default_factory=list)


class Supervisor:
    """Starts a worker process per queue, restarts crashed ones with backoff,
    forwards SIGTERM/SIGINT as a drain request (a second one as a forced stop)
    and runs ``background`` tasks (the reconciler) until everything stopped."""

    def __init__(
        self,
        queues: list[str],
        settings: WorkerSettings,
        *,
        prefix: str,
        launch: Launch,
        background: list[Background] | None = None,
        reaped: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.prefix = prefix
        self.children = [Child(q, new_worker_id(q)) for q in queues]
        self._launch = launch
        self._background = background or []
        self._reaped = reaped
        self._stopping = asyncio.Event()
        self._signals = 0

    def boot(self) -> None:
        """Start every child; call before the event loop runs (children may be forked)."""
        for child in self.children:
            self._spawn(child, boot=True)

    async def run(self) -> int:
        """Supervise until stopped; 0 when every child exited cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            for child in self.children:
                if child.proc is None:
                    self._spawn(child, boot=False)
            write_status(
                self.settings.status_dir,
                WorkerStatus(
                    engine="dramatiq",
                    pid=os.getpid(),
                    prefix=self.prefix,
                    queues=[c.queue for c in self.children],
                    worker_ids=[c.worker_id for c in self.children],
                ),
            )
            tasks = [asyncio.create_task(job(self._stopping)) for job in self._background]
            try:
                await self._watch()
            finally:
                self._stopping.set()
                for task in tasks:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(task, timeout=10)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            self._kill_all()
            remove_status(self.settings.status_dir, "dramatiq")
        codes = [c.exit_codes[-1] if c.exit_codes else 0 for c in self.children]
        return 0 if all(code == 0 for code in codes) else 1

    def _on_signal(self, sig: int) -> None:
        self._signals += 1
        name = signal.Signals(sig).name
        if self._signals == 1:
            logger.info("received %s: stopping workers gracefully", name)
        else:
            logger.warning("received %s again: forcing workers to stop", name)
        self._stopping.set()
        forward = DRAIN_SIGNAL if self._signals == 1 else FORCE_SIGNAL
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(forward)

    async def _watch(self) -> None:
        while True:
            now = time.monotonic()
            for child in self.children:
                self._check(child, now)
            if self._stopping.is_set() and all(c.proc is None for c in self.children):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=0.1)
            if self._stopping.is_set():
                await asyncio.sleep(0.05)

    def _check(self, child: Child, now: float) -> None:
        if child.proc is None:
            due = child.restart_at is not None and now >= child.restart_at
            if due and not self._stopping.is_set():
                self._spawn(child, boot=False)
            return
        code = child.proc.poll()
        if code is None:
            return
        if self._reaped is not None:
            self._reaped(child.proc.pid)
        child.exit_codes.append(code)
        child.proc = None
        if self._stopping.is_set():
            logger.info("worker %s exited with %d", child.worker_id, code)
            return
        lived = now - child.started_at
        child.backoff_s = (
            0.0
            if lived >= _STABLE_AFTER_S
            else min(
                max(child.backoff_s * 2, self.settings.restart_backoff_s),
                self.settings.max_restart_backoff_s,
            )
        )
        child.restart_at = now + child.backoff_s
        logger.error(
            "worker %s (%s) died with %d after %.1fs; restarting in %.1fs",
            child.worker_id,
            child.queue,
            code,
            lived,
            child.backoff_s,
        )

    def _spawn(self, child: Child, *, boot: bool) -> None:
        if child.started_at:
            child.restarts += 1
        child.proc = self._launch(child.queue, child.worker_id, boot)
        child.started_at = time.monotonic()
        child.restart_at = None
        logger.info("started worker %s (pid %d)", child.worker_id, child.proc.pid)

    def _kill_all(self) -> None:
        # Only reached with children alive when the supervisor itself failed.
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(self.settings.grace_period_s + 5)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()
