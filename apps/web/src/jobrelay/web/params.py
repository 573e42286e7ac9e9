"""Path and query parameters shared by the routes: names and ids with their shape.

A value of the wrong shape is refused with a 422 naming the parameter
(``detail[0].loc == ["path", "name"]``) before any Redis or Temporal call.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from jobrelay.job_engine import SCHEDULE_ID_PATTERN
from jobrelay.queue import QUEUES
from pydantic import BeforeValidator, WithJsonSchema

# Queue names are identifiers (``default``, ``data_sync``); an unknown one of
# the right shape is a 404 from the route.
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,99}$"
# Worker ids are ``host:pid:random:queue``: a host name may be 253 characters.
WORKER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,299}$"
# A dead letter's member in its queue's set: Dramatiq's message id (a UUID).
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$"

QueuePath = Annotated[str, Path(pattern=QUEUE_NAME_PATTERN)]
# A filter names a declared queue (listed in the schema); an unknown one is a 422.
QueueQuery = Annotated[
    str, Query(pattern=QUEUE_NAME_PATTERN, json_schema_extra={"enum": sorted(QUEUES)})
]
WorkerIdPath = Annotated[str, Path(pattern=WORKER_ID_PATTERN)]
ScheduleIdPath = Annotated[str, Path(pattern=SCHEDULE_ID_PATTERN)]
MessageIdPath = Annotated[str, Path(pattern=MESSAGE_ID_PATTERN)]

# What a time filter takes: an ISO 8601 date-time (the route wants its offset),
# or seconds since the epoch. Pydantic alone would also take a date, a number
# of milliseconds or "-1e3"; the schema and the check below agree exactly.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_SECONDS = r"^-?\d{1,10}(\.\d{1,20})?$"


def _instant(value: object) -> object:
    if isinstance(value, str) and not (_DATE_TIME.match(value) or re.fullmatch(_SECONDS, value)):
        raise ValueError("expected an ISO 8601 date-time (2026-01-31T12:00:00Z) or Unix seconds")
    return value


Instant = Annotated[
    datetime,
    BeforeValidator(_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "pattern": _SECONDS},
            ],
            "description": "ISO 8601 date-time with an offset, or Unix seconds",
        }
    ),
]


def json_text(value: Any) -> Any:
    """``value`` if every engine can carry it as JSON text, else ``ValueError`` saying where.

    Python's json reads what UTF-8 and strict JSON cannot hold: a lone
    surrogate (``"\\ud800"``) and ``NaN``/``Infinity``; Redis, Temporal and the
    answers that echo a field would fail on them later.
    """
    stack: list[tuple[list[str | int], Any]] = [([], value)]
    while stack:  # not recursive: json.loads nests as deep as the stack allows
        path, item = stack.pop()
        why = None
        if isinstance(item, str) and not _utf8(item):
            why = "a lone surrogate (not Unicode text)"
        elif isinstance(item, float) and not math.isfinite(item):
            why = "NaN or Infinity (not JSON)"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _utf8(key):
                    why = "a key with a lone surrogate (not Unicode text)"
                    break
                stack.append(([*path, key], child))
        elif isinstance(item, list):
            stack.extend(([*path, i], child) for i, child in enumerate(item))
        if why is not None:
            # The message must itself be printable: a key at fault is escaped.
            where = ".".join(str(p) for p in path).encode("utf-8", "backslashreplace").decode()
            where = where or "the top"
            raise ValueError(f"{why} at {where}")
    return value


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
