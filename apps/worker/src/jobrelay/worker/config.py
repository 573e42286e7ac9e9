"""Every setting of the worker app, read from the environment once, where a command starts."""

from __future__ import annotations

from dataclasses import dataclass

from jobrelay.dispatcher import DispatcherSettings
from jobrelay.job_engine import JobEngineSettings
from jobrelay.job_engine.jobs.api import ApiSettings
from jobrelay.queue import QueueSettings

from .settings import WorkerSettings


@dataclass(frozen=True)
class WorkerConfig:
    """The settings objects the worker's commands pass down; nothing below reads the environment.

    Each part is documented in the README's configuration table; the parts
    are the libraries' own settings classes, so each library gets exactly
    the object it takes.
    """

    worker: WorkerSettings
    queue: QueueSettings
    dispatcher: DispatcherSettings
    jobs: JobEngineSettings
    apis: ApiSettings

    @classmethod
    def from_env(cls, worker: WorkerSettings | None = None) -> WorkerConfig:
        """Read every part from the environment (``worker`` when the caller built it already)."""
        return cls(
            worker=worker if worker is not None else WorkerSettings(),
            queue=QueueSettings(),
            dispatcher=DispatcherSettings(),
            jobs=JobEngineSettings(),
            apis=ApiSettings(),
        )
