"""The jobrelay worker runtime: the ``jobrelay-worker`` console script and its settings."""

from .settings import WorkerSettings

__all__ = ["WorkerSettings"]
