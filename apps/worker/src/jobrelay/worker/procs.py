"""Child processes of the supervisor: forked at boot, executed afresh on restart.

Forking a parent that already imported the engines and job modules starts a
worker in milliseconds instead of a second of imports per process, so a
fresh deployment heartbeats quickly. Forking is only safe while the parent
has one thread and no event loop, so it is used at boot only; a restart
(when the parent runs its loop and the reconciler's threads) starts a new
interpreter instead.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Protocol


class ChildProcess(Protocol):
    """The part of ``subprocess.Popen`` the supervisor uses."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class ForkedProcess:
    """A child made with ``os.fork``, with Popen's poll/wait/signal semantics."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0.0)
            time.sleep(0.02)
        return code


def can_fork() -> bool:
    """Whether forking is safe here: POSIX, one thread, no running event loop."""
    return hasattr(os, "fork") and threading.active_count() == 1


def fork_child(target: Callable[[], int]) -> ForkedProcess:
    """Run ``target`` in a forked child that exits with its return value."""
    sys.stdout.flush()
    sys.stderr.flush()
    # Objects that exist now stay shared copy-on-write instead of being
    # copied when the child's collector touches them.
    gc.freeze()
    pid = os.fork()
    if pid:
        gc.unfreeze()
        return ForkedProcess(pid)
    code = 1
    try:
        code = target()
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Never return into the parent's code (its CLI, its atexit hooks).
        os._exit(code)


def exec_child(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` as a new interpreter in this process group."""
    return subprocess.Popen(argv)
