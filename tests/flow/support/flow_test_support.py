"""Measuring the flow-control tests' spans (importable: ``support/`` is on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
