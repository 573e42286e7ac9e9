from __future__ import annotations

from pathlib import Path
from typing import Annotated

from jobrelay.job_engine import LogFormat
from jobrelay.queue import QUEUES, QueueSpec, get_queue
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(name: str, field: str) -> AliasChoices:
    return AliasChoices(name, field)


class WorkerSettings(BaseSettings):
    """How the worker runtime behaves; connection settings live in ``QueueSettings``.

    Built from the environment only by the CLI (``WorkerSettings()``).
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    heartbeat_interval_s: float = Field(
        2.0, gt=0, validation_alias=_env("WORKER_HEARTBEAT_INTERVAL_S", "heartbeat_interval_s")
    )
    grace_period_s: float = Field(
        30.0, ge=0, validation_alias=_env("WORKER_GRACE_PERIOD_S", "grace_period_s")
    )
    # "default=4,data_sync=1": threads per queue instead of the queue's concurrency.
    concurrency: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict, validation_alias=_env("WORKER_CONCURRENCY", "concurrency")
    )
    # A Dramatiq broker silent this long is taken for dead and its unacked
    # messages go back to the queue. Live workers beat every maintenance tick.
    broker_heartbeat_timeout_ms: int = Field(
        5000,
        ge=500,
        validation_alias=_env("WORKER_BROKER_HEARTBEAT_TIMEOUT_MS", "broker_heartbeat_timeout_ms"),
    )
    maintenance_interval_s: float = Field(
        1.0, gt=0, validation_alias=_env("WORKER_MAINTENANCE_INTERVAL_S", "maintenance_interval_s")
    )
    worker_timeout_ms: int = Field(
        100, ge=10, validation_alias=_env("WORKER_POLL_TIMEOUT_MS", "worker_timeout_ms")
    )
    # Each reconciler pass also sends due sleepers back to their queues.
    reconcile_interval_s: float = Field(
        1.0, gt=0, validation_alias=_env("WORKER_RECONCILE_INTERVAL_S", "reconcile_interval_s")
    )
    # The parent hosts the reconciler and wake-up pump unless told not to.
    host_reconciler: bool = Field(
        True, validation_alias=_env("WORKER_HOST_RECONCILER", "host_reconciler")
    )
    # The parent also fires the jobs' schedules (any number of schedulers at once).
    scheduler: bool = Field(True, validation_alias=_env("JOBRELAY_SCHEDULER", "scheduler"))
    scheduler_interval_s: float = Field(
        0.5, gt=0, validation_alias=_env("JOBRELAY_SCHEDULER_INTERVAL_S", "scheduler_interval_s")
    )
    restart_backoff_s: float = Field(
        1.0, gt=0, validation_alias=_env("WORKER_RESTART_BACKOFF_S", "restart_backoff_s")
    )
    max_restart_backoff_s: float = Field(
        30.0, gt=0, validation_alias=_env("WORKER_MAX_RESTART_BACKOFF_S", "max_restart_backoff_s")
    )
    # Off unless set: Prometheus metrics on this port (run: the supervisor; temporal: the SDK).
    metrics_port: int | None = Field(
        None, ge=1, le=65535, validation_alias=_env("WORKER_METRICS_PORT", "metrics_port")
    )
    log_level: str = Field("INFO", validation_alias=_env("WORKER_LOG_LEVEL", "log_level"))
    log_format: LogFormat = Field(
        "text", validation_alias=_env("JOBRELAY_LOG_FORMAT", "log_format")
    )
    # OpenTelemetry spans exported over OTLP (the standard OTEL_* settings).
    tracing: bool = Field(False, validation_alias=_env("JOBRELAY_TRACING", "tracing"))
    status_dir: Path = Field(
        Path("/tmp/jobrelay-worker"), validation_alias=_env("WORKER_STATUS_DIR", "status_dir")
    )
    # Under the probes' own 10 s timeouts (Dockerfile, Kubernetes manifests).
    check_timeout_s: float = Field(
        5.0, gt=0, validation_alias=_env("WORKER_CHECK_TIMEOUT_S", "check_timeout_s")
    )

    @field_validator("concurrency", mode="before")
    @classmethod
    def _parse_concurrency(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parsed: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, count = item.partition("=")
            if not sep or not count.strip().isdigit() or int(count) < 1:
                raise ValueError(f"WORKER_CONCURRENCY wants name=count pairs, got {item!r}")
            parsed[name.strip()] = int(count)
        return parsed

    @field_validator("concurrency")
    @classmethod
    def _known_queues(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            get_queue(name)
        return value

    def threads_for(self, queue: str) -> int:
        """Worker threads for ``queue``: the override, else the queue's concurrency."""
        return self.concurrency.get(queue, get_queue(queue).concurrency)

    def heartbeat_every(self, ttl_s: float) -> float:
        """The heartbeat interval, kept to a third of the TTL so one lost beat is harmless."""
        return min(self.heartbeat_interval_s, ttl_s / 3)


def resolve_queues(names: list[str] | None) -> list[QueueSpec]:
    """The specs of ``names`` in the given order (all queues when empty); no duplicates."""
    if not names:
        return list(QUEUES.values())
    seen: dict[str, QueueSpec] = {}
    for name in names:
        seen.setdefault(name, get_queue(name))
    return list(seen.values())
