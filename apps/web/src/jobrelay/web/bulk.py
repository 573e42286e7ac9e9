"""``jobrelay dispatch NAME --from-file jobs.jsonl``: a file of payloads, sent in batches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobrelay.dispatcher import BatchResult, JobRequest, dispatch_many_sync
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@dataclass(frozen=True, slots=True)
class LineResult:
    """What became of one line of the file (1-based ``line``)."""

    line: int
    job_id: str | None = None
    engine: str | None = None
    reason: str | None = None
    deduplicated: bool = False
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The line's result as one JSON object; ``error`` only on failure."""
        if self.error is not None:
            return {"line": self.line, "error": self.error}
        return {
            "line": self.line,
            "job_id": self.job_id,
            "engine": self.engine,
            "reason": self.reason,
            "deduplicated": self.deduplicated,
        }


def read_payloads(
    path: Path, name: str, id_field: str | None
) -> Iterator[tuple[int, JobRequest | str]]:
    """Each non-blank line's job, or why the line cannot be one.

    A line is the JSON object of one payload. With ``id_field`` the job id is
    that field's value, so sending the file again dispatches nothing twice.
    """
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                payload = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, f"not JSON: {exc}"
                continue
            if not isinstance(payload, dict):
                yield number, "not a JSON object"
                continue
            job_id = None
            if id_field is not None:
                if payload.get(id_field) in (None, ""):
                    yield number, f"no {id_field!r} field for the job id"
                    continue
                job_id = str(payload[id_field])
            yield number, JobRequest(name=name, payload=payload, job_id=job_id)


def dispatch_file(
    path: Path, name: str, *, id_field: str | None, batch_size: int, show_progress: bool
) -> list[LineResult]:
    """Dispatch every line of ``path`` in batches of ``batch_size``; one result per line."""
    lines = list(read_payloads(path, name, id_field))
    results: list[LineResult] = []
    batch: list[tuple[int, JobRequest]] = []
    with Progress(
        TextColumn("dispatching {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not show_progress,
        transient=True,
    ) as progress:
        task = progress.add_task(path.name, total=len(lines))

        def flush() -> None:
            outcomes = dispatch_many_sync([job for _, job in batch])
            results.extend(
                _line_result(line, r) for (line, _), r in zip(batch, outcomes, strict=True)
            )
            progress.advance(task, len(batch))
            batch.clear()

        for line, job in lines:
            if isinstance(job, str):
                results.append(LineResult(line, error=job))
                progress.advance(task)
                continue
            batch.append((line, job))
            if len(batch) == batch_size:
                flush()
        if batch:
            flush()
    return sorted(results, key=lambda r: r.line)


def _line_result(line: int, result: BatchResult) -> LineResult:
    if result.receipt is None:
        return LineResult(line, error=f"{type(result.error).__name__}: {result.error}")
    receipt = result.receipt
    return LineResult(
        line,
        job_id=receipt.job_id,
        engine=receipt.engine,
        reason=receipt.reason.value,
        deduplicated=receipt.deduplicated,
    )
