from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .connection import check_redis_url
from .constants import DEFAULT_PREFIX, Keys


class QueueSettings(BaseSettings):
    """Redis connection, key prefix, timeouts and health thresholds.

    Read from the environment only where an application builds it
    (``QueueSettings()``); libraries receive an instance.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    prefix: str = Field(DEFAULT_PREFIX, validation_alias="JOBRELAY_PREFIX")
    connect_timeout_ms: int = Field(
        300, ge=1, validation_alias=AliasChoices("REDIS_CONNECT_TIMEOUT_MS", "connect_timeout_ms")
    )
    read_timeout_ms: int = Field(
        500, ge=1, validation_alias=AliasChoices("REDIS_READ_TIMEOUT_MS", "read_timeout_ms")
    )
    health_cache_ms: int = Field(
        1000, ge=0, validation_alias=AliasChoices("REDIS_HEALTH_CACHE_MS", "health_cache_ms")
    )
    breaker_failure_threshold: int = Field(
        1,
        ge=1,
        validation_alias=AliasChoices("REDIS_BREAKER_FAILURES", "breaker_failure_threshold"),
    )
    breaker_reset_ms: int = Field(
        2000, ge=1, validation_alias=AliasChoices("REDIS_BREAKER_RESET_MS", "breaker_reset_ms")
    )
    retention_s: int = Field(
        7 * 24 * 3600, ge=1, validation_alias=AliasChoices("JOBRELAY_RETENTION_S", "retention_s")
    )
    heartbeat_ttl_s: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("WORKER_HEARTBEAT_TTL_S", "heartbeat_ttl_s")
    )

    @field_validator("redis_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_redis_url(value)

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)
