from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from .errors import JobDefinitionError


def step_ref(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a step; steps must be module-level so any worker finds them."""
    qualname = getattr(fn, "__qualname__", "")
    module = getattr(fn, "__module__", None)
    if not module or not qualname or "<" in qualname or "." in qualname:
        raise JobDefinitionError(
            f"step {qualname or fn!r} must be a module-level function"
            " (no lambda, closure or method)"
        )
    return f"{module}:{qualname}"


def resolve_step(ref: str) -> Callable[..., Any]:
    """The function named by :func:`step_ref`'s ``module:qualname``."""
    module_name, _, qualname = ref.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError) as exc:
        raise JobDefinitionError(f"cannot resolve step {ref!r}: {exc}") from exc
    if not callable(fn):
        raise JobDefinitionError(f"step {ref!r} is not callable")
    return fn  # type: ignore[no-any-return]


def step_result_type(fn: Callable[..., Any]) -> Any:
    """The declared return type of a step, used to rebuild memoised results."""
    try:
        hint = get_type_hints(fn).get("return", Any)
    except Exception:
        return Any
    if hint is None or hint is type(None):
        return type(None)
    origin = getattr(hint, "__origin__", None)
    # ``async def f() -> X`` is annotated X; an explicit Awaitable/Coroutine is unwrapped.
    if origin is not None and getattr(origin, "__name__", "") in {"Awaitable", "Coroutine"}:
        return hint.__args__[-1]
    return hint


async def call_step(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Call a step inline: await it if async (used where no thread hop is wanted)."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
