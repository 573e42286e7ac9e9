"""Redis round trips from coroutines, on connections that belong to the calling event loop."""

from __future__ import annotations

import asyncio
import select
import threading
import weakref
from collections.abc import Sequence
from typing import Any, TypeVar

import hiredis
import redis
import redis.asyncio.connection as aconnection
import redis.asyncio.sentinel as asentinel
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool

from .calls import Arg, RedisCall
from .errors import ConfigurationError, RedisUnavailable

T = TypeVar("T")

# What a connection of the blocking client's pool needs to reach the same
# server the same way; the rest of its options are redis-py's own wiring.
_SAME_SERVER = {
    "host",
    "port",
    "path",
    "db",
    "username",
    "password",
    "client_name",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive",
    "health_check_interval",
}

_by_pool: weakref.WeakKeyDictionary[redis.ConnectionPool, AsyncRedis] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class AsyncRedis:
    """Runs :class:`RedisCall` objects from coroutines without blocking the event loop.

    A connection from redis.asyncio's pool costs about 15 us a call here (a
    lock, a liveness read and observability hooks at each checkout), a tenth
    of a whole dispatch; these connections come from a plain free list
    instead. There is one list per event loop, because an asyncio connection
    belongs to the loop that opened it (a web app's loop and the private loop
    of the ``*_sync`` calls can share one dispatcher). A call that fails, or
    is cancelled before its reply is read, closes its connection rather than
    leave the reply to the next caller.
    """

    def __init__(
        self,
        connection_class: type[aconnection.AbstractConnection],
        options: dict[str, Any],
        *,
        keep_idle: int = 16,
        sentinel: tuple[list[tuple[str, int]], str] | None = None,
    ) -> None:
        self._connection_class = connection_class
        self._options = {**options, "retry": Retry(NoBackoff(), 0), "decode_responses": False}
        self._keep_idle = keep_idle
        self._idle: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[aconnection.AbstractConnection]
        ] = weakref.WeakKeyDictionary()
        # With Sentinel, (sentinel addresses, master name): each connection asks
        # them for the master when it connects, through a pool of its loop's.
        self._sentinel = sentinel
        self._sentinel_pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asentinel.SentinelConnectionPool
        ] = weakref.WeakKeyDictionary()

    @classmethod
    def for_client(cls, client: redis.Redis) -> AsyncRedis:
        """The coroutine twin of a blocking client: same server, same timeouts.

        One per connection pool, so every component built on that client
        shares the same connections. Raises :class:`ConfigurationError` for a
        connection type redis.asyncio does not have.
        """
        pool = client.connection_pool
        with _lock:
            found = _by_pool.get(pool)
            if found is None and isinstance(pool, SentinelConnectionPool):
                addresses = [
                    (
                        s.connection_pool.connection_kwargs["host"],
                        s.connection_pool.connection_kwargs["port"],
                    )
                    for s in pool.sentinel_manager.sentinels
                ]
                options = {k: v for k, v in pool.connection_kwargs.items() if k in _SAME_SERVER}
                found = _by_pool[pool] = cls(
                    aconnection.Connection, options, sentinel=(addresses, pool.service_name)
                )
            if found is None:
                kind = pool.connection_class.__name__
                connection_class = getattr(aconnection, kind, None)
                if not (
                    isinstance(connection_class, type)
                    and issubclass(connection_class, aconnection.AbstractConnection)
                ):
                    raise ConfigurationError(f"no asyncio connection like redis-py's {kind}")
                options = {
                    k: v
                    for k, v in pool.connection_kwargs.items()
                    if k in _SAME_SERVER or k.startswith("ssl_")
                }
                found = _by_pool[pool] = cls(connection_class, options)
        return found

    def _connections(self) -> list[aconnection.AbstractConnection]:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(loop)
        if idle is None:
            idle = self._idle[loop] = []
        return idle

    async def run(self, call: RedisCall[T]) -> T:
        """One round trip; raises :class:`RedisUnavailable` when Redis does not answer in time."""
        (reply,) = await self._exchange((call,))
        if isinstance(reply, redis.ResponseError):
            raise reply
        return call.parse(reply)

    async def run_replicated(
        self, call: RedisCall[T], replicas: int, timeout_ms: int
    ) -> tuple[T, int]:
        """``call``, then ``WAIT replicas timeout_ms`` on the same connection, in one write.

        The second value is how many replicas acknowledged the call's writes
        (``WAIT`` counts the writes of its own connection). Keep ``timeout_ms``
        under the read timeout: a longer wait reads as Redis not answering.
        """
        wait: RedisCall[int] = RedisCall(("WAIT", replicas, timeout_ms), int)
        reply, acked = await self._exchange((call, wait))
        for raw in (reply, acked):
            if isinstance(raw, redis.ResponseError):
                raise raw
        return call.parse(reply), int(acked)

    async def _exchange(self, calls: Sequence[RedisCall[Any]]) -> list[Any]:
        """The raw replies of ``calls`` (error replies as exceptions), sent in one write.

        The NOSCRIPT retry sends the calls that need it again.
        """
        idle = self._connections()
        conn = self._take(idle)
        try:
            replies = await _pipeline(conn, [call.command for call in calls])
            unknown = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if unknown:
                again = await _pipeline(conn, [calls[i].eval_command() for i in unknown])
                for i, reply in zip(unknown, again, strict=True):
                    replies[i] = reply
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            await conn.disconnect(nowait=True)
            raise RedisUnavailable(f"Redis did not answer: {exc}") from exc
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        if len(idle) < self._keep_idle:
            idle.append(conn)
        else:
            await conn.disconnect()
        return replies

    def _take(self, idle: list[aconnection.AbstractConnection]) -> aconnection.AbstractConnection:
        # An idle connection the server closed meanwhile (a restart, a
        # failover) is dropped before use, as redis-py's pools do: a command
        # sent on it would fail after the send, and the dispatcher could not
        # tell whether it ran; a fresh connect that fails proves it did not.
        # The socket is asked, not the stream: the loop may not have run
        # since the server closed it.
        while idle:
            conn = idle.pop()
            if _still_open(conn):
                return conn
            conn._close()  # type: ignore[no-untyped-call]
        return self._new_connection()

    def _new_connection(self) -> aconnection.AbstractConnection:
        if self._sentinel is None:
            return self._connection_class(**self._options)
        loop = asyncio.get_running_loop()
        pool = self._sentinel_pools.get(loop)
        if pool is None:
            addresses, master = self._sentinel
            manager = asentinel.Sentinel(  # type: ignore[no-untyped-call]
                addresses,
                socket_timeout=self._options.get("socket_timeout"),
                socket_connect_timeout=self._options.get("socket_connect_timeout"),
            )
            pool = self._sentinel_pools[loop] = asentinel.SentinelConnectionPool(  # type: ignore[no-untyped-call]
                master, manager, **self._options
            )
        connection: aconnection.AbstractConnection = pool.make_connection()  # type: ignore[no-untyped-call]
        return connection

    async def aclose(self) -> None:
        """Close the idle connections of the running loop (a later call reconnects)."""
        idle = self._connections()
        while idle:
            await idle.pop().disconnect()


async def _pipeline(
    conn: aconnection.AbstractConnection, commands: Sequence[tuple[Arg, ...]]
) -> list[Any]:
    # redis-py's send_command wraps each write in asyncio.wait_for, a task of
    # its own and a turn of the loop per call; a write the socket takes whole
    # (any command of ours, on a healthy connection) needs neither.
    if not conn.is_connected:
        await conn.connect()  # type: ignore[no-untyped-call]
    writer = conn._writer
    assert writer is not None
    # hiredis's stub says a 1-tuple; it packs any number of arguments.
    packed = [hiredis.pack_command(command) for command in commands]  # type: ignore[arg-type]
    writer.write(packed[0] if len(packed) == 1 else b"".join(packed))
    if writer.transport.get_write_buffer_size():
        try:
            async with asyncio.timeout(conn.socket_timeout):
                await writer.drain()
        except TimeoutError:
            raise redis.TimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            raise redis.ConnectionError(f"Error while writing to socket: {exc}") from exc
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(await conn.read_response())
        except redis.ResponseError as exc:
            # An error reply is read whole: the connection is still in step.
            replies.append(exc)
    return replies


def _still_open(conn: aconnection.AbstractConnection) -> bool:
    """Whether an idle connection is connected with nothing to read (no EOF, no stray reply)."""
    writer = conn._writer
    if writer is None:
        return False
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return not poller.poll(0)
