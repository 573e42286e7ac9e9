from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff, the same on both engines.

    ``max_attempts`` counts the first try: ``retries=5`` means 6 attempts.
    """

    max_attempts: int = 6
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    backoff_coefficient: float = 2.0

    def backoff_s(self, attempt: int) -> float:
        """Delay before the attempt after ``attempt`` (1-based)."""
        delay = self.initial_backoff_s * self.backoff_coefficient ** max(0, attempt - 1)
        return float(min(delay, self.max_backoff_s))
