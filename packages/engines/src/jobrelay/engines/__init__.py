"""The two engines jobrelay runs jobs on, each split into its producer and worker sides.

``jobrelay.engines.dramatiq`` and ``jobrelay.engines.temporal`` are what a
producer (the dispatcher) needs: send, start, describe, cancel. Their
``worker`` subpackages run jobs, and only worker processes import them.
This package itself holds what both sides share: the job in flight and the
interfaces the dispatcher expects of each engine.
"""

from .job import EngineJob
from .protocols import DramatiqEngine, TemporalEngine

__all__ = ["EngineJob", "DramatiqEngine", "TemporalEngine"]
