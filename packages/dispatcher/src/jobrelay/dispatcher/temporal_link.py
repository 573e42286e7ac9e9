"""The dispatcher's way to Temporal: an engine given up front or connected on first use."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from jobrelay.engines import TemporalEngine
from jobrelay.engines.temporal import TemporalAdapter, connect
from jobrelay.queue import QueueSettings

from .settings import DispatcherSettings

TemporalFactory = Callable[[], Awaitable[TemporalEngine]]


class TemporalLink:
    """A Temporal engine given up front, or connected on first use.

    A failed connect is remembered for ``retry_after_s``, so a dispatch while
    Temporal is down fails at once instead of paying a connect each time.
    """

    def __init__(
        self,
        engine: TemporalEngine | None = None,
        *,
        factory: TemporalFactory | None = None,
        retry_after_s: float = 1.0,
    ) -> None:
        if engine is None and factory is None:
            raise ValueError("TemporalLink needs an engine or a factory")
        self._engine = engine
        self._factory = factory
        self._retry_after_s = retry_after_s
        self._failed_at = 0.0
        self._error: BaseException | None = None

    @classmethod
    def connecting(
        cls,
        settings: DispatcherSettings,
        queue_settings: QueueSettings,
        *,
        retry_after_s: float = 1.0,
    ) -> TemporalLink:
        """A link to ``settings``' Temporal server, connected on first use.

        The Temporal client is imported with this module, not on first use:
        importing it takes a quarter of a second, which the first fallback
        would otherwise spend blocking its event loop.
        """

        async def connect_engine() -> TemporalEngine:
            client = await connect(settings.temporal_connection())
            return TemporalAdapter(client, queue_settings)

        return cls(factory=connect_engine, retry_after_s=retry_after_s)

    @property
    def connected(self) -> bool:
        """Whether the engine is here: given up front, or connected by an earlier call."""
        return self._engine is not None

    async def get(self) -> TemporalEngine:
        """The engine, connecting if needed; re-raises a recent connect failure."""
        if self._engine is not None:
            return self._engine
        assert self._factory is not None
        if self._error is not None and time.monotonic() - self._failed_at < self._retry_after_s:
            raise self._error
        # No lock: callers may live on different event loops (the sync
        # wrappers run their own), and two concurrent connects are harmless.
        try:
            engine = await self._factory()
        except Exception as exc:
            self._error, self._failed_at = exc, time.monotonic()
            raise
        self._error = None
        if self._engine is None:
            self._engine = engine
        return self._engine
