"""Temporal connection options built from settings: TLS files, mTLS pairs, API keys.

No TLS-enabled Temporal server can run here (``temporal server start-dev``
has no TLS options), so these check the options handed to the SDK, and
that a TLS client against the plain-text dev server fails as unavailable,
not with a stack trace.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jobrelay.devservers import TemporalDevServer
from jobrelay.dispatcher import DispatchConfigurationError, DispatcherSettings
from jobrelay.engines.temporal import (
    TemporalConfigurationError,
    TemporalConnection,
    TemporalTLS,
    TemporalUnavailable,
    connect,
)


def test_plain_settings_connect_in_plain_text() -> None:
    connection = DispatcherSettings(temporal_address="t:7233").temporal_connection()
    assert connection == TemporalConnection("t:7233", "default", None, None)
    assert connection.tls_option() is None


def test_tls_files_and_server_name_reach_the_sdk(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_bytes(f"-----{name}-----".encode())
    settings = DispatcherSettings(
        temporal_address="ns.tmprl.cloud:7233",
        temporal_namespace="ns.acct",
        temporal_tls_ca=tmp_path / "ca.pem",
        temporal_tls_cert=tmp_path / "cert.pem",
        temporal_tls_key=tmp_path / "key.pem",
        temporal_tls_server_name="ns.tmprl.cloud",
    )
    connection = settings.temporal_connection()
    assert connection.namespace == "ns.acct"
    tls = connection.tls_option()
    assert not isinstance(tls, bool) and tls is not None
    assert tls.server_root_ca_cert == b"-----ca.pem-----"
    assert tls.client_cert == b"-----cert.pem-----"
    assert tls.client_private_key == b"-----key.pem-----"
    assert tls.domain == "ns.tmprl.cloud"


def test_tls_on_alone_uses_the_system_trust_store_and_an_api_key_is_kept_secret() -> None:
    settings = DispatcherSettings(temporal_tls=True, temporal_api_key="k-123")
    assert "k-123" not in repr(settings)
    connection = settings.temporal_connection()
    assert connection.api_key == "k-123"
    tls = connection.tls_option()
    assert tls is not None and not isinstance(tls, bool)
    assert (tls.server_root_ca_cert, tls.client_cert) == (None, None)
    # An API key alone: TLS left to the SDK, which turns it on for a key.
    assert DispatcherSettings(temporal_api_key="k").temporal_connection().tls is None


def test_a_certificate_without_its_key_is_refused_naming_both_settings(tmp_path: Path) -> None:
    with pytest.raises(DispatchConfigurationError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"):
        DispatcherSettings(temporal_tls_cert=tmp_path / "cert.pem")
    with pytest.raises(TemporalConfigurationError, match="TEMPORAL_TLS_KEY"):
        TemporalTLS(client_key_path=tmp_path / "key.pem")


def test_a_missing_tls_file_is_named() -> None:
    tls = TemporalTLS(server_ca_path=Path("/nonexistent/ca.pem"))
    with pytest.raises(TemporalConfigurationError, match="TEMPORAL_TLS_CA: cannot read"):
        tls.config()


async def test_tls_against_a_plain_text_server_is_unavailable(
    temporal_server: TemporalDevServer,
) -> None:
    connection = TemporalConnection(temporal_server.address, tls=TemporalTLS())
    with pytest.raises(TemporalUnavailable):
        await connect(connection)
