"""Path and query parameters shared by the routes: names and ids with their shape.

A value of the wrong shape is refused with a 422 naming the parameter
(``detail[0].loc == ["path", "name"]``) before any Redis or Temporal call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from jobrelay.queue import QUEUES

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
MessageIdPath = Annotated[str, Path(pattern=MESSAGE_ID_PATTERN)]
