"""Engine adapters: map the job_engine context onto Dramatiq or Temporal."""

from .base import DramatiqEngine, EngineJob, TemporalEngine

__all__ = ["DramatiqEngine", "EngineJob", "TemporalEngine"]
