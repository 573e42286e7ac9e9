"""The local status file that tells ``jobrelay-worker check`` which worker to look at."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

ENGINES = ("dramatiq", "temporal")


class WorkerStatus(BaseModel):
    """Written by ``run`` and ``temporal`` when they start; removed on a clean exit."""

    engine: str
    pid: int
    prefix: str
    queues: list[str]
    worker_ids: list[str] = Field(default_factory=list)
    started_at: float = Field(default_factory=time.time)


def status_path(status_dir: Path, engine: str) -> Path:
    return status_dir / f"{engine}.json"


def write_status(status_dir: Path, status: WorkerStatus) -> Path:
    """Write ``status`` atomically, so ``check`` never reads half a file."""
    status_dir.mkdir(parents=True, exist_ok=True)
    path = status_path(status_dir, status.engine)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(status.model_dump_json())
    tmp.replace(path)
    return path


def read_statuses(status_dir: Path) -> list[WorkerStatus]:
    """The status of each engine with a readable file in ``status_dir``."""
    found = []
    for engine in ENGINES:
        try:
            raw = status_path(status_dir, engine).read_text()
        except OSError:
            continue
        with contextlib.suppress(ValidationError):
            found.append(WorkerStatus.model_validate_json(raw))
    return found


def remove_status(status_dir: Path, engine: str) -> None:
    """Remove this process's status file (left alone if another process rewrote it)."""
    path = status_path(status_dir, engine)
    with contextlib.suppress(OSError, ValidationError):
        if WorkerStatus.model_validate_json(path.read_text()).pid == os.getpid():
            path.unlink()


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"
