from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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
    """Return a client on this process's pool for ``settings.redis_url``.

    Every connection has connect and read timeouts and no automatic retries,
    so a dead Redis fails a call within the timeout instead of hanging or
    silently multiplying it.
    """
    url = check_redis_url(settings.redis_url)
    tls = settings.tls_options()
    # Keyed by pid: a pool inherited through fork shares sockets with the parent.
    key = (
        os.getpid(),
        url,
        settings.connect_timeout_ms,
        settings.read_timeout_ms,
        tuple(sorted(tls.items())),
    )
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = redis.ConnectionPool.from_url(
                url,
                socket_connect_timeout=settings.connect_timeout_ms / 1000,
                socket_timeout=settings.read_timeout_ms / 1000,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=30,
                decode_responses=False,
                **tls,
            )
            _pools[key] = pool
    return redis.Redis(connection_pool=pool)


@contextmanager
def unavailable_on_error() -> Iterator[None]:
    """Turn redis-py's connection and timeout errors into :class:`RedisUnavailable`."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise RedisUnavailable(f"Redis did not answer: {exc}") from exc
