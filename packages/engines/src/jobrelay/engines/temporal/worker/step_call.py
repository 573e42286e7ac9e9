"""Calling a step in the step activity: typed arguments, heartbeats, a thread for sync code."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any, get_type_hints

from pydantic import TypeAdapter
from temporalio import activity

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def coerce_args(fn: Callable[..., Any], args: Sequence[Any]) -> list[Any]:
    """Rebuild JSON arguments into the types ``fn`` declares (models, datetimes...).

    The job body passed real objects; they crossed to the activity as JSON.
    Raises ``pydantic.ValidationError`` when an argument does not fit.
    """
    try:
        hints = get_type_hints(fn)
    except Exception:
        return list(args)
    params = list(inspect.signature(fn).parameters.values())
    positional = [p for p in params if p.kind in _POSITIONAL]
    star = next((p for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    out: list[Any] = []
    for i, value in enumerate(args):
        param = positional[i] if i < len(positional) else star
        hint = hints.get(param.name) if param is not None else None
        out.append(value if hint is None or hint is Any else _adapter(hint).validate_python(value))
    return out


async def call_with_heartbeat(
    fn: Callable[..., Any],
    args: Sequence[Any],
    interval_s: float | None,
    *,
    keep: Callable[[Any], None] | None = None,
) -> Any:
    """Run ``fn(*args)``: async directly, sync in a thread; heartbeat while it runs.

    The heartbeat lets Temporal notice a dead worker before the time limit and
    carries cancellation into the activity. ``keep`` (blocking) is given the
    result as soon as ``fn`` returns, in the same thread for a sync ``fn``:
    a worker that dies after the step has the smallest window in which its
    result is lost.
    """
    if inspect.iscoroutinefunction(fn):
        work = asyncio.ensure_future(_then_keep(fn(*args), keep))
    else:
        work = asyncio.ensure_future(asyncio.to_thread(_call_and_keep, fn, args, keep))
    try:
        while True:
            done, _ = await asyncio.wait({work}, timeout=interval_s)
            if done:
                result = work.result()
                break
            activity.heartbeat()
    finally:
        if not work.done():
            work.cancel()
    if inspect.isawaitable(result):
        result = await _then_keep(result, keep)
    return result


def _call_and_keep(
    fn: Callable[..., Any], args: Sequence[Any], keep: Callable[[Any], None] | None
) -> Any:
    result = fn(*args)
    if keep is not None and not inspect.isawaitable(result):
        keep(result)
    return result


async def _then_keep(work: Awaitable[Any], keep: Callable[[Any], None] | None) -> Any:
    result = await work
    if keep is not None:
        await asyncio.to_thread(keep, result)
    return result


def _adapter(hint: Any) -> TypeAdapter[Any]:
    try:
        return _cached_adapter(hint)
    except TypeError:  # an unhashable annotation
        return TypeAdapter(hint)


@lru_cache(maxsize=256)
def _cached_adapter(hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(hint)
