from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import DispatchConfigurationError

if TYPE_CHECKING:
    from jobrelay.engines.temporal import TemporalConnection

DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024


class DispatcherSettings(BaseSettings):
    """How the dispatcher chooses and reaches its engines.

    Read from the environment only where an application builds it
    (``DispatcherSettings()``); libraries receive an instance.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    use_dramatiq: bool = Field(True, validation_alias=AliasChoices("USE_DRAMATIQ", "use_dramatiq"))
    temporal_address: str = Field(
        "127.0.0.1:7233", validation_alias=AliasChoices("TEMPORAL_ADDRESS", "temporal_address")
    )
    temporal_namespace: str = Field(
        "default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "temporal_namespace")
    )
    # TLS to Temporal: on with TEMPORAL_TLS, or with any file below; with an API
    # key and none of these, the SDK turns TLS on itself (Temporal Cloud).
    temporal_tls: bool = Field(False, validation_alias=AliasChoices("TEMPORAL_TLS", "temporal_tls"))
    temporal_tls_ca: Path | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_TLS_CA", "temporal_tls_ca")
    )
    temporal_tls_cert: Path | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_TLS_CERT", "temporal_tls_cert")
    )
    temporal_tls_key: Path | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_TLS_KEY", "temporal_tls_key")
    )
    temporal_tls_server_name: str | None = Field(
        None,
        validation_alias=AliasChoices("TEMPORAL_TLS_SERVER_NAME", "temporal_tls_server_name"),
    )
    temporal_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_API_KEY", "temporal_api_key")
    )
    pickup_timeout_ms: int = Field(
        2000, ge=1, validation_alias=AliasChoices("PICKUP_TIMEOUT_MS", "pickup_timeout_ms")
    )
    pickup_deadline_s: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("PICKUP_DEADLINE_S", "pickup_deadline_s")
    )
    max_payload_bytes: int = Field(
        DEFAULT_MAX_PAYLOAD_BYTES,
        ge=1,
        validation_alias=AliasChoices("JOBRELAY_MAX_PAYLOAD_BYTES", "max_payload_bytes"),
    )
    max_batch_size: int = Field(
        1000,
        ge=1,
        validation_alias=AliasChoices("JOBRELAY_MAX_BATCH_SIZE", "max_batch_size"),
    )
    # A bulk retry or cancel acts on at most this many jobs per call.
    bulk_limit: int = Field(
        1000, ge=1, validation_alias=AliasChoices("JOBRELAY_BULK_LIMIT", "bulk_limit")
    )
    # An admitted job counts as accepted only once this many replicas hold its
    # write (Redis WAIT), so a failover cannot lose it; 0: no wait. Keep the
    # wait under REDIS_READ_TIMEOUT_MS.
    replica_wait: int = Field(
        0, ge=0, validation_alias=AliasChoices("JOBRELAY_REPLICA_WAIT", "replica_wait")
    )
    replica_wait_ms: int = Field(
        200, ge=1, validation_alias=AliasChoices("JOBRELAY_REPLICA_WAIT_MS", "replica_wait_ms")
    )
    live_worker_cache_ms: int = Field(
        1000,
        ge=0,
        validation_alias=AliasChoices("JOBRELAY_LIVE_WORKER_CACHE_MS", "live_worker_cache_ms"),
    )
    # How long a won Temporal claim may wait for its workflow start to be
    # confirmed before a reconciler starts it again (the start is idempotent).
    start_lease_s: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("JOBRELAY_START_LEASE_S", "start_lease_s")
    )
    # The Temporal UI's base URL (http://127.0.0.1:8233, say): a job's detail
    # links its workflow run there.
    temporal_ui_url: str | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_UI_URL", "temporal_ui_url")
    )
    api_token: str | None = Field(
        None, validation_alias=AliasChoices("JOBRELAY_API_TOKEN", "api_token")
    )
    use_dispatch_proxy: bool = Field(
        False, validation_alias=AliasChoices("USE_DISPATCH_PROXY", "use_dispatch_proxy")
    )
    dispatch_proxy_url: str | None = Field(
        None, validation_alias=AliasChoices("DISPATCH_PROXY_URL", "dispatch_proxy_url")
    )
    proxy_timeout_s: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("DISPATCH_PROXY_TIMEOUT_S", "proxy_timeout_s")
    )

    @model_validator(mode="after")
    def _check_proxy_gate(self) -> DispatcherSettings:
        # Two variables on purpose: one of them alone is a half-done setup,
        # and silently dispatching directly (or nowhere) would hide it.
        if self.use_dispatch_proxy and not self.dispatch_proxy_url:
            raise DispatchConfigurationError(
                "USE_DISPATCH_PROXY=true needs DISPATCH_PROXY_URL (the web app's base URL)"
            )
        if self.dispatch_proxy_url and not self.use_dispatch_proxy:
            raise DispatchConfigurationError(
                "DISPATCH_PROXY_URL is set but USE_DISPATCH_PROXY is not true; "
                "set both to dispatch over HTTP, or unset DISPATCH_PROXY_URL"
            )
        if self.dispatch_proxy_url and not self.dispatch_proxy_url.startswith(
            ("http://", "https://")
        ):
            raise DispatchConfigurationError(
                f"DISPATCH_PROXY_URL must start with http:// or https://, "
                f"got {self.dispatch_proxy_url!r}"
            )
        return self

    @model_validator(mode="after")
    def _check_temporal_ui_url(self) -> DispatcherSettings:
        if self.temporal_ui_url and not self.temporal_ui_url.startswith(("http://", "https://")):
            raise DispatchConfigurationError(
                f"TEMPORAL_UI_URL must start with http:// or https://, got {self.temporal_ui_url!r}"
            )
        return self

    @model_validator(mode="after")
    def _check_temporal_tls(self) -> DispatcherSettings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise DispatchConfigurationError(
                "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)"
            )
        return self

    def temporal_connection(self) -> TemporalConnection:
        """How to reach Temporal: address, namespace, TLS and API key from these settings."""
        # Imported here: a Dramatiq worker reads these settings and never loads Temporal.
        from jobrelay.engines.temporal import TemporalConnection, TemporalTLS

        files = (self.temporal_tls_ca, self.temporal_tls_cert, self.temporal_tls_key)
        tls = None
        if self.temporal_tls or any(files) or self.temporal_tls_server_name:
            tls = TemporalTLS(
                server_ca_path=self.temporal_tls_ca,
                client_cert_path=self.temporal_tls_cert,
                client_key_path=self.temporal_tls_key,
                server_name=self.temporal_tls_server_name,
            )
        key = self.temporal_api_key.get_secret_value() if self.temporal_api_key else None
        return TemporalConnection(self.temporal_address, self.temporal_namespace, tls, key)

    @property
    def pickup_timeout_s(self) -> float:
        return self.pickup_timeout_ms / 1000

    @property
    def proxy_enabled(self) -> bool:
        return self.use_dispatch_proxy and bool(self.dispatch_proxy_url)
