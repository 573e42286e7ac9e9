"""What a job must get before it starts, on either engine: a concurrency slot, a turn.

Built from the job's declaration (``@job(concurrency_limit=..., rate_limit=...)``)
and its payload, the same way on both engines: a Temporal workflow builds it
inside its sandbox (it is pure), a Dramatiq worker before it claims the job.
The Redis side is :class:`jobrelay.queue.FlowGate`.
"""

from __future__ import annotations

from typing import Any

from jobrelay.job_engine import JobDefinition, Rate
from jobrelay.queue import EnterRequest, Entry, FlowGate, Slot
from pydantic import BaseModel

# A job without a slot looks again after this, doubling up to the cap: a slot
# frees when a job ends, which nobody announces, so waiters poll.
SLOT_POLL_FIRST_S = 0.2
SLOT_POLL_MAX_S = 1.0

# A turn is taken in Redis a few ms before the step starts, and that delay
# varies with the engine and the load: a turn taken on Dramatiq can reach its
# step later than the next turn taken on Temporal reaches its own. Spreading
# each period's turns over the period plus this margin keeps the limit on the
# steps' real start times as long as that delay varies by less than the margin
# (measured: 10-50 ms on a loaded 2-core machine). It costs a "10/s" limit one
# start a second at full pace (9.1/s) and a "100/m" limit nothing measurable.
RATE_MARGIN_S = 0.1


def turn_interval_s(rate: Rate) -> float:
    """The time between two turns under ``rate``: its period and the margin, shared out."""
    return (rate.per_s + RATE_MARGIN_S) / rate.count


def slot_poll_s(waits: int, *, cap_s: float = SLOT_POLL_MAX_S) -> float:
    """How long a job that waited ``waits`` times already may wait for a slot now."""
    return min(cap_s, SLOT_POLL_FIRST_S * float(2 ** min(waits, 16)))


class FlowPlan(BaseModel):
    """One job's start conditions: the key of its concurrency limit, the key and
    pace of its rate limit (None where it declares none)."""

    name: str
    concurrency_key: str | None = None
    limit: int | None = None
    rate_key: str | None = None
    interval_s: float | None = None

    @classmethod
    def of(cls, definition: JobDefinition, payload: dict[str, Any]) -> FlowPlan | None:
        """The plan of a job with this payload (its JSON form); None when nothing limits it.

        Raises ``InvalidPayload`` when a key cannot be read from the payload.
        """
        flow = definition.flow
        if not flow.limits_starts:
            return None
        keys = definition.flow_keys(payload)
        return cls(
            name=definition.name,
            concurrency_key=keys.concurrency,
            limit=flow.concurrency_limit,
            rate_key=keys.rate,
            interval_s=turn_interval_s(flow.rate) if flow.rate is not None else None,
        )

    def slot(self, gate: FlowGate, job_id: str, engine: str) -> Slot | None:
        """The concurrency slot ``job_id`` holds on ``engine``; None without a limit."""
        if self.concurrency_key is None or self.limit is None:
            return None
        return gate.slot(self.name, self.concurrency_key, job_id, engine, self.limit)

    def request(
        self,
        gate: FlowGate,
        job_id: str,
        engine: str,
        *,
        waited_turn: bool = False,
        poll_s: float = SLOT_POLL_MAX_S,
        claim: bool = False,
    ) -> EnterRequest:
        """What :meth:`enter` asks, for ``FlowGate.enter_many`` (many jobs, one round trip).

        ``claim``: a job told to wait is claimed for ``engine`` (``FlowGate.enter``).
        """
        return EnterRequest(
            self.name,
            job_id,
            engine,
            self.slot(gate, job_id, engine),
            self.rate_key,
            self.interval_s,
            waited_turn,
            poll_s,
            claim,
        )

    def enter(
        self,
        gate: FlowGate,
        job_id: str,
        engine: str,
        *,
        waited_turn: bool = False,
        poll_s: float = SLOT_POLL_MAX_S,
    ) -> Entry:
        """Take the slot and the turn, or learn how long to wait (one round trip)."""
        return gate.enter(
            self.name,
            job_id,
            engine,
            slot=self.slot(gate, job_id, engine),
            rate_key=self.rate_key,
            interval_s=self.interval_s,
            waited_turn=waited_turn,
            poll_s=poll_s,
        )
