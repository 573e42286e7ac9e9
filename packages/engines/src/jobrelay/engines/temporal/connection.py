"""How to reach a Temporal server: address, namespace, TLS and an API key.

A local dev server needs the address alone; a secured cluster wants TLS
(its CA, a client certificate and key for mTLS, the name to verify); Temporal
Cloud wants an API key (and TLS, which the SDK turns on with a key). The
application builds one from its settings; this package reads no environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from temporalio.service import TLSConfig

from .errors import TemporalConfigurationError


@dataclass(frozen=True, slots=True)
class TemporalTLS:
    """TLS to the frontend: files are read when the client connects.

    No file at all means TLS with the system's trust store; a client
    certificate needs its key and the other way round.
    """

    server_ca_path: Path | None = None
    client_cert_path: Path | None = None
    client_key_path: Path | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert_path is None) != (self.client_key_path is None):
            raise TemporalConfigurationError(
                "a Temporal client certificate needs its key and the other way round "
                "(TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY)"
            )

    def config(self) -> TLSConfig:
        """The SDK's TLS settings, the files read now; names a file it cannot read."""
        return TLSConfig(
            server_root_ca_cert=_read(self.server_ca_path, "TEMPORAL_TLS_CA"),
            client_cert=_read(self.client_cert_path, "TEMPORAL_TLS_CERT"),
            client_private_key=_read(self.client_key_path, "TEMPORAL_TLS_KEY"),
            domain=self.server_name,
        )


@dataclass(frozen=True, slots=True)
class TemporalConnection:
    """Where and how to connect: ``tls`` None is plain text unless an ``api_key`` is set."""

    address: str
    namespace: str = "default"
    tls: TemporalTLS | None = None
    api_key: str | None = None

    def tls_option(self) -> TLSConfig | bool | None:
        """The SDK's ``tls`` argument: a config, or None to let it decide (TLS with a key)."""
        return None if self.tls is None else self.tls.config()


def _read(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TemporalConfigurationError(f"{setting}: cannot read {path}: {exc.strerror}") from exc
