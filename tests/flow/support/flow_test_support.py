"""Measuring the flow-control tests' spans (importable: ``support/`` is on sys.path)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import redis

SUPPORT = Path(__file__).parent
TESTJOBS = "jobrelay_flow_testjobs"


def max_overlap(spans: list[dict[str, Any]]) -> int:
    """The most spans running at one moment (one ending as another starts: not both)."""
    events = sorted(
        [(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans],
        key=lambda e: (e[0], e[1]),
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def most_starts_within(starts: list[float], window_s: float) -> int:
    """The most starts in any half-open window ``[t, t + window_s)``."""
    ordered = sorted(starts)
    best = j = 0
    for i, start in enumerate(ordered):
        while j < len(ordered) and ordered[j] < start + window_s:
            j += 1
        best = max(best, j - i)
    return best


class Spans:
    """The spans one test's jobs recorded (``flowt:{run}:spans``), and waits for them."""

    def __init__(self, client: redis.Redis, run_id: str) -> None:
        self._client = client
        self._key = f"flowt:{run_id}:spans"

    def __call__(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._client.lrange(self._key, 0, -1)]

    def wait(self, count: int, timeout_s: float = 120.0) -> list[dict[str, Any]]:
        """The spans once ``count`` are in (blocking); fails the test after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while len(found := self()) < count:
            assert time.monotonic() < deadline, f"only {len(found)} of {count} jobs ran"
            time.sleep(0.05)
        return found

    async def until(self, count: int, timeout_s: float = 120.0) -> list[dict[str, Any]]:
        """:meth:`wait` for a test on the event loop."""
        deadline = time.monotonic() + timeout_s
        while len(found := self()) < count:
            assert time.monotonic() < deadline, f"only {len(found)} of {count} jobs ran"
            await asyncio.sleep(0.1)
        return found
