from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from .errors import InvalidRedisURL, RedisUnavailable

if TYPE_CHECKING:
    from .settings import QueueSettings

_pools: dict[tuple[Any, ...], redis.ConnectionPool] = {}
_lock = threading.Lock()


def check_redis_url(url: str) -> str:
    """Return ``url`` unchanged, or raise :class:`InvalidRedisURL` saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise InvalidRedisURL(
            f"REDIS_URL must start with redis://, rediss:// or unix://, got {url!r}"
        )
    if parts.scheme == "unix":
        if not parts.path:
            raise InvalidRedisURL(f"REDIS_URL has no socket path: {url!r}")
        return url
    try:
        parts.port  # noqa: B018 - urlsplit raises ValueError on a bad port only when asked
    except ValueError as exc:
        raise InvalidRedisURL(f"REDIS_URL has a bad port: {url!r}") from exc
    if not parts.hostname:
        raise InvalidRedisURL(f"REDIS_URL has no host: {url!r}")
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise InvalidRedisURL(f"REDIS_URL database must be a number, got {db!r} in {url!r}")
    return url


def redis_client(settings: QueueSettings) -> redis.Redis:
    """Return a client on this process's pool for ``settings.redis_url`` (or its sentinels).

    Every connection has connect and read timeouts and no automatic retries,
    so a dead Redis fails a call within the timeout instead of hanging or
    silently multiplying it.
    """
    url = check_redis_url(settings.redis_url)
    tls = settings.tls_options()
    # Keyed by pid: a pool inherited through fork shares sockets with the parent.
    key: tuple[Any, ...] = (
        os.getpid(),
        url,
        settings.connect_timeout_ms,
        settings.read_timeout_ms,
        tuple(sorted(tls.items())),
    )
    sentinels = settings.sentinel_addresses()
    if sentinels:
        key += (tuple(sentinels), settings.redis_sentinel_master)
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.connect_timeout_ms / 1000,
        "socket_timeout": settings.read_timeout_ms / 1000,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 30,
        "decode_responses": False,
        **tls,
    }
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            if sentinels:
                pool = _sentinel_pool(url, sentinels, settings.redis_sentinel_master, options)
            else:
                pool = redis.ConnectionPool.from_url(url, **options)
            _pools[key] = pool
    return redis.Redis(connection_pool=pool)


def _sentinel_pool(
    url: str, sentinels: list[tuple[str, int]], master: str, options: dict[str, Any]
) -> redis.ConnectionPool:
    """A pool whose connections ask the sentinels for the master at each (re)connect.

    After a failover a broken connection reconnects to the new master: no
    restart. The URL gives the database, user and password; its host is unused.
    """
    target = parse_url(url)  # type: ignore[no-untyped-call]
    auth = {k: target[k] for k in ("db", "username", "password") if k in target}
    manager = Sentinel(  # type: ignore[no-untyped-call]
        sentinels,
        socket_timeout=options["socket_timeout"],
        socket_connect_timeout=options["socket_connect_timeout"],
    )
    return SentinelConnectionPool(master, manager, **options, **auth)  # type: ignore[no-untyped-call]


@contextmanager
def unavailable_on_error() -> Iterator[None]:
    """Turn redis-py's connection and timeout errors into :class:`RedisUnavailable`."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise RedisUnavailable(f"Redis did not answer: {exc}") from exc
