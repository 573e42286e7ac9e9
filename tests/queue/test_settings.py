from __future__ import annotations

import pytest
from jobrelay.queue import (
    QUEUES,
    ConfigurationError,
    InvalidRedisURL,
    QueueSettings,
    UnknownQueue,
    check_redis_url,
    get_queue,
)
from pydantic import ValidationError


@pytest.mark.parametrize(
    "url",
    ["localhost:6379", "http://localhost:6379", "redis://:abc/0", "redis:///0", "redis://h:1/x"],
)
def test_malformed_redis_url_is_a_typed_error(url: str) -> None:
    with pytest.raises(InvalidRedisURL, match="REDIS_URL"):
        check_redis_url(url)


def test_settings_name_the_bad_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    with pytest.raises(ValidationError) as info:
        QueueSettings()
    assert info.value.errors()[0]["loc"] == ("REDIS_URL",)
    assert "redis://" in str(info.value)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.5:6380/2")
    monkeypatch.setenv("JOBRELAY_PREFIX", "acme:")
    settings = QueueSettings()
    assert settings.redis_url == "redis://10.0.0.5:6380/2"
    assert settings.keys.job("x") == "acme:job:x"
    assert settings.keys.task_queue("default") == "acme.default"


def test_default_task_queue_names_match_the_design() -> None:
    assert get_queue("default").task_queue() == "jobrelay.default"
    assert {q.task_queue() for q in QUEUES.values()} == {
        "jobrelay.default",
        "jobrelay.data_sync",
        "jobrelay.scheduled",
    }


def test_unknown_queue_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownQueue, match="data_sync, default, scheduled"):
        get_queue("bogus")
    assert issubclass(UnknownQueue, ConfigurationError)


def test_queue_profiles_differ_as_documented() -> None:
    default, data_sync, scheduled = (get_queue(n) for n in ("default", "data_sync", "scheduled"))
    assert default.concurrency > scheduled.concurrency > data_sync.concurrency
    assert data_sync.time_limit_s > scheduled.time_limit_s > default.time_limit_s
