"""The one shape of a job in flight, from the dispatcher to either engine."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EngineJob(BaseModel):
    """What either engine needs to run a job; the payload is already validated JSON.

    The dispatcher hands it to an engine; Temporal's job workflow takes it as
    its input, and a Dramatiq message carries it as its arguments
    (``jobrelay.engines.dramatiq.messages``).
    """

    job_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    queue: str
    payload: dict[str, Any]
    claim_first: bool = False
    """Redis may hold this job too (a write whose reply was lost): the Temporal
    run must win the owner claim before it runs anything, waiting for Redis."""
    priority: int | None = None
    """Its priority key, 1 (first) to 5 (last); None is the default, 3. Dramatiq
    queues it in that priority's lane, Temporal starts it with that priority."""
