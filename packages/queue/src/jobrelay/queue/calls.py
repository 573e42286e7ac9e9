"""One Redis command or Lua script call, spelled once, run from a thread or a coroutine.

A component that talks to Redis from both sides (the dispatcher on an event
loop, the reconciler on a worker's thread) builds a :class:`RedisCall` and
hands it to a runner: :meth:`RedisCall.run` with a blocking client, or
:meth:`AsyncRedis.run <jobrelay.queue.AsyncRedis.run>` from a coroutine. The
keys, the arguments and the reading of the reply are written once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis
from redis.exceptions import NoScriptError

from .connection import unavailable_on_error

T = TypeVar("T")

# What redis-py accepts as a command argument.
Arg = str | bytes | int | float


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A Lua script, called by its SHA1 and sent whole only when Redis lacks it."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class RedisCall(Generic[T]):
    """One round trip: the command, and ``parse`` to turn its raw reply into a ``T``.

    Replies reach ``parse`` raw (bytes, ints, lists), whichever runner ran the call.
    """

    command: tuple[Arg, ...]
    parse: Callable[[Any], T]
    script: LuaScript | None = None

    @classmethod
    def lua(
        cls,
        script: LuaScript,
        keys: Sequence[str],
        args: Sequence[Arg],
        parse: Callable[[Any], T],
    ) -> RedisCall[T]:
        """A call of ``script`` with ``keys`` and ``args`` (``EVALSHA``, ``EVAL`` if unknown)."""
        return cls(("EVALSHA", script.sha, len(keys), *keys, *args), parse, script)

    def eval_command(self) -> tuple[Arg, ...]:
        """The same call with the script's source, for a Redis that does not have it cached."""
        assert self.script is not None
        return ("EVAL", self.script.source, *self.command[2:])

    def run(self, client: redis.Redis) -> T:
        """Run on a blocking client; raises :class:`RedisUnavailable` when Redis does not answer."""
        with unavailable_on_error():
            try:
                reply = client.execute_command(*self.command)  # type: ignore[no-untyped-call]
            except NoScriptError:
                reply = client.execute_command(*self.eval_command())  # type: ignore[no-untyped-call]
        return self.parse(reply)


def ignore(_: object) -> None:
    """A ``parse`` for calls whose reply says nothing worth keeping."""
    return None
