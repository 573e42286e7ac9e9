from __future__ import annotations

from pathlib import Path

from jobrelay.job_engine import LogFormat
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    """How the web app listens and whether it hosts a reconciler loop."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", validation_alias=AliasChoices("JOBRELAY_WEB_HOST", "host"))
    port: int = Field(
        8000, ge=1, le=65535, validation_alias=AliasChoices("JOBRELAY_WEB_PORT", "port")
    )
    run_reconciler: bool = Field(
        True, validation_alias=AliasChoices("JOBRELAY_WEB_RECONCILER", "run_reconciler")
    )
    log_format: LogFormat = Field(
        "text", validation_alias=AliasChoices("JOBRELAY_LOG_FORMAT", "log_format")
    )
    # OpenTelemetry spans exported over OTLP (the standard OTEL_* settings).
    tracing: bool = Field(False, validation_alias=AliasChoices("JOBRELAY_TRACING", "tracing"))
    reconcile_interval_s: float = Field(
        1.0,
        gt=0,
        validation_alias=AliasChoices("JOBRELAY_RECONCILE_INTERVAL_S", "reconcile_interval_s"),
    )
    # Fire the jobs' schedules from this process too; any number of schedulers may
    # run at once (web apps and workers): each tick still runs once.
    scheduler: bool = Field(True, validation_alias=AliasChoices("JOBRELAY_SCHEDULER", "scheduler"))
    scheduler_interval_s: float = Field(
        0.5,
        gt=0,
        validation_alias=AliasChoices("JOBRELAY_SCHEDULER_INTERVAL_S", "scheduler_interval_s"),
    )
    # How often the app samples each queue's depth for the dashboard's chart; 0: never
    # (reads of GET /queues and /metrics still sample).
    stats_interval_s: float = Field(
        30.0,
        ge=0,
        validation_alias=AliasChoices("JOBRELAY_STATS_INTERVAL_S", "stats_interval_s"),
    )


class CliSettings(BaseSettings):
    """Where the ``jobrelay`` CLI finds a running ``jobrelay dev`` stack and the web app."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    dev_dir: Path = Field(
        Path(".jobrelay-dev"), validation_alias=AliasChoices("JOBRELAY_DEV_DIR", "dev_dir")
    )
    url: str = Field("http://127.0.0.1:8000", validation_alias=AliasChoices("JOBRELAY_URL", "url"))
