"""The operator's CLI commands over HTTP: ``jobrelay queues|workers|pause|resume``.

They talk to a running web app (``JOBRELAY_URL``, the bearer token from
``JOBRELAY_API_TOKEN``), print rich tables or, with ``--json``, the API's
JSON; an unreachable server, a 401 or a 404 is one error line and exit 1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table


class OpsError(Exception):
    """Raised when the web app cannot be reached or refuses the request; one line for a human."""


class OpsClient:
    """A blocking client of the web app's operator routes."""

    def __init__(self, url: str, token: str | None, *, timeout_s: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def __enter__(self) -> OpsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(self, method: str, path: str) -> Any:
        """The JSON answer of ``method path``; :class:`OpsError` for anything but a 2xx."""
        try:
            response = self._http.request(method, path)
        except httpx.HTTPError as exc:
            raise OpsError(f"cannot reach the web app at {self.url}: {exc}") from exc
        if response.status_code == 401:
            raise OpsError("401: missing or wrong token (set JOBRELAY_API_TOKEN)")
        if not response.is_success:
            raise OpsError(f"{response.status_code}: {_detail(response)}")
        return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg", detail[0]))
    return str(detail)


def print_json(value: Any) -> None:
    """The API's answer as it came, indented."""
    Console().print_json(json.dumps(value))


def queues_table(queues: list[dict[str, Any]]) -> Table:
    """One row per queue: its messages, workers and pause."""
    table = Table(title="queues")
    for column in ("queue", "ready", "delayed", "dead", "dramatiq workers", "temporal workers"):
        table.add_column(column, justify="left" if column == "queue" else "right")
    table.add_column("paused")
    for q in queues:
        workers = q["live_workers"]
        table.add_row(
            q["name"],
            str(q["ready"]),
            str(q["delayed"]),
            str(q["dead"]),
            str(workers.get("dramatiq", 0)),
            str(workers.get("temporal", 0)),
            "yes" if q["paused"] else "no",
        )
    return table


def workers_table(by_queue: dict[str, list[dict[str, Any]]]) -> Table:
    """One row per live worker and queue."""
    table = Table(title="live workers")
    for column in ("queue", "worker", "engine", "host", "pid", "done", "failed"):
        table.add_column(column, justify="right" if column in ("pid", "done", "failed") else "left")
    for queue, workers in by_queue.items():
        for w in workers:
            table.add_row(
                queue,
                w["worker_id"],
                w["engine"],
                w["host"],
                str(w["pid"]),
                str(w.get("jobs_done", 0)),
                str(w.get("jobs_failed", 0)),
            )
    return table


def dead_letters_table(queue: str, letters: list[dict[str, Any]]) -> Table:
    """One row per dead letter, oldest first."""
    table = Table(title=f"dead letters of {queue}: {len(letters)}")
    for column in ("redis id", "job id", "job", "dead at (UTC)", "reason"):
        table.add_column(column)
    for letter in letters:
        when = datetime.fromtimestamp(letter["dead_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            letter["redis_id"],
            letter.get("job_id") or "-",
            letter.get("job_name") or "-",
            when,
            letter["reason"][:120],
        )
    return table
