"""The default dispatcher behind the module-level functions, built from the environment."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from jobrelay.engines.dramatiq import make_broker
from jobrelay.job_engine import JobEngineSettings, discover_jobs
from jobrelay.queue import JobStore, QueueSettings, RedisHealth, WorkerRegistry, redis_client

from .dispatcher import Dispatcher
from .live_workers import LiveWorkers
from .settings import DispatcherSettings
from .temporal_link import TemporalLink

if TYPE_CHECKING:
    from .proxy import DispatchProxy

_default: Dispatcher | DispatchProxy | None = None
_lock = threading.Lock()


def build_dispatcher(
    settings: DispatcherSettings | None = None,
    queue_settings: QueueSettings | None = None,
    *,
    discover: bool = True,
) -> Dispatcher | DispatchProxy:
    """A dispatcher wired to real Redis, Dramatiq and Temporal (connected on first use).

    Settings not given are read from the environment. With the proxy gate
    on (``USE_DISPATCH_PROXY`` + ``DISPATCH_PROXY_URL``) it returns a
    :class:`DispatchProxy` with the same three calls. ``discover`` imports
    the job modules (built-in and ``JOBRELAY_JOB_MODULES``).
    """
    settings = settings or DispatcherSettings()
    if discover:
        discover_jobs(JobEngineSettings().job_modules)
    if settings.proxy_enabled:
        # Imported here: httpx costs a producer that talks to Redis itself a
        # quarter of a second at start-up.
        from .proxy import DispatchProxy

        assert settings.dispatch_proxy_url is not None
        return DispatchProxy(
            settings.dispatch_proxy_url,
            token=settings.api_token,
            timeout_s=settings.proxy_timeout_s,
            max_payload_bytes=settings.max_payload_bytes,
        )
    # Imported here: the real adapters pull in the engines, which a proxy-only
    # producer (or a process building its own Dispatcher) need not load.
    from jobrelay.engines.dramatiq import DramatiqAdapter

    from .fast_enqueue import DramatiqMessages

    queue_settings = queue_settings or QueueSettings()
    client = redis_client(queue_settings)
    store = JobStore.from_settings(client, queue_settings)
    adapter = DramatiqAdapter(make_broker(queue_settings, client=client), store, queue_settings)
    return Dispatcher(
        settings,
        store=store,
        health=RedisHealth.from_settings(client, queue_settings),
        workers=LiveWorkers(
            WorkerRegistry.from_settings(client, queue_settings),
            cache_s=settings.live_worker_cache_ms / 1000,
        ),
        dramatiq=adapter,
        temporal=TemporalLink.connecting(settings, queue_settings),
        messages=DramatiqMessages(adapter),
    )


def default_dispatcher() -> Dispatcher | DispatchProxy:
    """The process-wide dispatcher, built from the environment on first use."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = build_dispatcher()
    return _default


def set_default_dispatcher(dispatcher: Dispatcher | DispatchProxy | None) -> None:
    """Use ``dispatcher`` for the module-level functions (None: build again from the env)."""
    global _default
    with _lock:
        _default = dispatcher
