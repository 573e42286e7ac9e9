from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .connection import check_redis_url
from .constants import DEFAULT_PREFIX, Keys
from .errors import InvalidRedisURL


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
    # A concurrency slot's lease: renewed while its job runs, so a dead worker's
    # slot frees within this long. Both engines' workers read it.
    flow_lease_s: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("JOBRELAY_FLOW_LEASE_S", "flow_lease_s")
    )

    # TLS for rediss:// URLs: the CA that signed the server's certificate, a
    # client certificate and key (mutual TLS), and whether to verify the server.
    redis_tls_ca: Path | None = Field(
        None, validation_alias=AliasChoices("REDIS_TLS_CA", "redis_tls_ca")
    )
    redis_tls_cert: Path | None = Field(
        None, validation_alias=AliasChoices("REDIS_TLS_CERT", "redis_tls_cert")
    )
    redis_tls_key: Path | None = Field(
        None, validation_alias=AliasChoices("REDIS_TLS_KEY", "redis_tls_key")
    )
    redis_tls_verify: bool = Field(
        True, validation_alias=AliasChoices("REDIS_TLS_VERIFY", "redis_tls_verify")
    )

    # Redis Sentinel: "host:port,host:port,..." of the sentinels; REDIS_URL then
    # gives only the database, user and password, and the sentinels the master.
    redis_sentinels: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_SENTINELS", "redis_sentinels")
    )
    redis_sentinel_master: str = Field(
        "mymaster", validation_alias=AliasChoices("REDIS_SENTINEL_MASTER", "redis_sentinel_master")
    )

    @field_validator("redis_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_redis_url(value)

    @field_validator("redis_sentinels")
    @classmethod
    def _check_sentinels(cls, value: str | None) -> str | None:
        if value is not None:
            _addresses(value)
        return value or None

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """The sentinels to ask for the master; empty without Sentinel."""
        return _addresses(self.redis_sentinels) if self.redis_sentinels else []

    @model_validator(mode="after")
    def _check_tls(self) -> QueueSettings:
        tls_files = (self.redis_tls_ca, self.redis_tls_cert, self.redis_tls_key)
        if any(tls_files) and not self.redis_url.startswith("rediss://"):
            raise InvalidRedisURL(
                "REDIS_TLS_CA/CERT/KEY are set but REDIS_URL is not rediss://: "
                "TLS settings would be ignored"
            )
        if (self.redis_tls_cert is None) != (self.redis_tls_key is None):
            raise InvalidRedisURL("REDIS_TLS_CERT and REDIS_TLS_KEY go together (mutual TLS)")
        if self.redis_sentinels and self.redis_url.startswith("rediss://"):
            raise InvalidRedisURL("REDIS_SENTINELS with a rediss:// URL is not supported yet")
        return self

    def tls_options(self) -> dict[str, Any]:
        """redis-py's ``ssl_*`` options for a rediss:// URL; empty for redis://."""
        if not self.redis_url.startswith("rediss://"):
            return {}
        options: dict[str, Any] = {"ssl_cert_reqs": "required" if self.redis_tls_verify else "none"}
        if not self.redis_tls_verify:
            options["ssl_check_hostname"] = False
        if self.redis_tls_ca is not None:
            options["ssl_ca_certs"] = str(self.redis_tls_ca)
        if self.redis_tls_cert is not None and self.redis_tls_key is not None:
            options["ssl_certfile"] = str(self.redis_tls_cert)
            options["ssl_keyfile"] = str(self.redis_tls_key)
        return options

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)


def _addresses(value: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for item in (part.strip() for part in value.split(",")):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidRedisURL(f"REDIS_SENTINELS wants host:port,host:port..., got {item!r}")
        out.append((host, int(port)))
    return out
