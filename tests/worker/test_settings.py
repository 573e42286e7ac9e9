"""WorkerSettings from the environment, and the package's public surface."""

from __future__ import annotations

from types import ModuleType

import pytest
from jobrelay.queue import QUEUES, UnknownQueue
from jobrelay.worker import WorkerSettings
from jobrelay.worker.settings import resolve_queues
from pydantic import ValidationError


def test_concurrency_overrides_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "default=4, data_sync=1")
    settings = WorkerSettings()
    assert settings.threads_for("default") == 4
    assert settings.threads_for("data_sync") == 1
    assert settings.threads_for("scheduled") == QUEUES["scheduled"].concurrency


@pytest.mark.parametrize("value", ["default", "default=0", "default=x", "nope=2"])
def test_bad_concurrency_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", value)
    with pytest.raises((ValidationError, UnknownQueue)):
        WorkerSettings()


def test_heartbeat_stays_well_under_the_ttl() -> None:
    settings = WorkerSettings(heartbeat_interval_s=5.0)
    assert settings.heartbeat_every(ttl_s=10.0) == pytest.approx(10.0 / 3)
    assert settings.heartbeat_every(ttl_s=60.0) == 5.0


def test_queue_selection() -> None:
    assert [q.name for q in resolve_queues(None)] == list(QUEUES)
    assert [q.name for q in resolve_queues(["scheduled", "default", "scheduled"])] == [
        "scheduled",
        "default",
    ]
    with pytest.raises(UnknownQueue):
        resolve_queues(["nope"])


def test_public_names() -> None:
    import jobrelay.worker as worker

    assert worker.__all__ == ["WorkerSettings"]
    # Submodules become attributes once anything imports them: not names of the API.
    public = {
        n
        for n, v in vars(worker).items()
        if not n.startswith("_") and n != "annotations" and not isinstance(v, ModuleType)
    }
    assert public == set(worker.__all__)


def test_the_cli_hands_the_built_in_jobs_their_api_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobrelay.job_engine.jobs.api import api_settings, configure_apis
    from jobrelay.worker import cli
    from jobrelay.worker.config import WorkerConfig

    monkeypatch.setenv("JOBRELAY_BOOKING_API_URL", "http://from-env.test")
    monkeypatch.setenv("JOBRELAY_API_TIMEOUT_S", "4")
    try:
        cli._configure_jobs(WorkerConfig.from_env())
        assert (api_settings().booking_api_url, api_settings().timeout_s) == (
            "http://from-env.test",
            4.0,
        )
    finally:
        configure_apis(None)


def test_the_worker_config_reads_every_part_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobrelay.worker.config import WorkerConfig

    monkeypatch.setenv("WORKER_GRACE_PERIOD_S", "7")
    monkeypatch.setenv("JOBRELAY_PREFIX", "cfg:")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "cfg-ns")
    monkeypatch.setenv("JOBRELAY_JOB_MODULES", "cfg_jobs_a,cfg_jobs_b")
    monkeypatch.setenv("JOBRELAY_BOOKING_API_URL", "http://cfg.test")

    config = WorkerConfig.from_env()

    assert config.worker.grace_period_s == 7
    assert config.queue.prefix == "cfg:"
    assert config.dispatcher.temporal_namespace == "cfg-ns"
    assert list(config.jobs.job_modules) == ["cfg_jobs_a", "cfg_jobs_b"]
    assert config.apis.booking_api_url == "http://cfg.test"
