"""Jobs on Dramatiq, the worker side: running messages, acking outcomes, stopping cleanly."""

from .context import DramatiqContext, release_held_leases
from .drain import drain
from .maintenance import beat_and_maintain
from .outcomes import Outcome, ended, outcome_of
from .start import start_worker
from .stats import WorkerStats

__all__ = [
    # Running a worker
    "start_worker",
    "drain",
    "beat_and_maintain",
    "WorkerStats",
    # The job context
    "DramatiqContext",
    "release_held_leases",
    # Outcomes
    "Outcome",
    "outcome_of",
    "ended",
]
