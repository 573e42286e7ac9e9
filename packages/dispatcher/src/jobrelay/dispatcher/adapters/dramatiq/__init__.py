"""Jobs on Dramatiq: the actors, their job context, and an in-process worker."""

from .adapter import WAKEUP_DELAY_S, DramatiqAdapter
from .context import DramatiqContext, release_held_leases
from .deadletter import DeadLetter
from .messages import JobMessage, actor_name
from .outcomes import Outcome, outcome_of
from .worker import start_worker

__all__ = [
    "DramatiqAdapter",
    "start_worker",
    "DramatiqContext",
    "release_held_leases",
    "DeadLetter",
    "JobMessage",
    "actor_name",
    "Outcome",
    "outcome_of",
    "WAKEUP_DELAY_S",
]
