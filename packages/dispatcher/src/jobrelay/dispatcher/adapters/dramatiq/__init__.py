"""Jobs on Dramatiq: the actors, their job context, and an in-process worker.

``DramatiqAdapter``, ``JobMessage`` and ``DeadLetter`` are the producer side;
the rest is the worker side, imported on first use, so a process that only
dispatches never loads the job runner, the consumer or the job context.
"""

import importlib as _importlib
import typing as _typing

from .adapter import WAKEUP_DELAY_S, DramatiqAdapter
from .deadletter import DeadLetter
from .messages import JobMessage, actor_name

if _typing.TYPE_CHECKING:
    from .context import DramatiqContext, release_held_leases
    from .outcomes import Outcome, outcome_of
    from .worker import start_worker

_LAZY = {
    "DramatiqContext": ".context",
    "release_held_leases": ".context",
    "Outcome": ".outcomes",
    "outcome_of": ".outcomes",
    "start_worker": ".worker",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    # Producer side
    "DramatiqAdapter",
    "DeadLetter",
    "JobMessage",
    "actor_name",
    "WAKEUP_DELAY_S",
    # Worker side
    "start_worker",
    "DramatiqContext",
    "release_held_leases",
    "Outcome",
    "outcome_of",
]
