"""The module-level functions, their sync wrappers, and the package's public names."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable, Iterator

import jobrelay.dispatcher as dispatcher_pkg
import pytest
from jobrelay.devservers import TemporalDevServer
from jobrelay.dispatcher import (
    Dispatcher,
    cancel_job,
    cancel_job_sync,
    dispatch_job,
    dispatch_job_sync,
    get_job_detail,
    get_job_detail_sync,
    get_job_status,
    get_job_status_sync,
    set_default_dispatcher,
)
from jobrelay.queue import QueueSettings
from temporalio.client import Client

DOCUMENTED_NAMES = {
    "dispatch_job",
    "get_job_status",
    "get_job_detail",
    "cancel_job",
    "Dispatcher",
    "DispatchReceipt",
    "JobStatus",
    "DispatchUnavailable",
}


def test_all_is_exactly_the_public_surface() -> None:
    exported = set(dispatcher_pkg.__all__)
    assert len(exported) == len(dispatcher_pkg.__all__)
    loaded = {
        name
        for name, value in vars(dispatcher_pkg).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    # The heavy parts are imported on first use, yet are there to be had.
    assert loaded | set(dispatcher_pkg._LAZY) == exported
    for name in exported:
        assert getattr(dispatcher_pkg, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = dispatcher_pkg.no_such_name
    assert exported >= DOCUMENTED_NAMES
    assert exported >= {"dispatch_job_sync", "Reconciler", "DispatcherSettings", "JobNotFound"}


@pytest.fixture
def default(mem_dispatcher: Dispatcher) -> Iterator[Dispatcher]:
    set_default_dispatcher(mem_dispatcher)
    yield mem_dispatcher
    set_default_dispatcher(None)


async def test_module_level_functions_use_the_default(
    default: Dispatcher, heartbeat: Callable[..., str]
) -> None:
    heartbeat("default")
    receipt = await dispatch_job("dsp.ping", {"n": 1}, job_id="m1")
    assert receipt.engine == "dramatiq"
    assert (await get_job_status("m1")).state == "queued"
    detail = await get_job_detail("m1")
    assert (detail.state, detail.engine) == ("queued", "dramatiq")
    assert detail.payload == {"n": 1, "note": ""}
    assert await cancel_job("m1") is True


def test_sync_wrappers_work_without_a_loop(default: Dispatcher) -> None:
    receipt = dispatch_job_sync("dsp.ping", {}, job_id="m2")
    assert receipt.engine == "temporal"
    assert get_job_status_sync("m2").engine == "temporal"
    assert get_job_detail_sync("m2").payload == {"n": 0, "note": ""}
    assert cancel_job_sync("m2") is True


async def test_sync_wrappers_work_inside_a_running_loop(default: Dispatcher) -> None:
    # A sync library called from async code: the wrapper must not need this loop.
    receipt = await asyncio.to_thread(dispatch_job_sync, "dsp.ping", {}, job_id="m3")
    assert receipt.job_id == "m3"
    assert dispatch_job_sync("dsp.ping", {}, job_id="m3").deduplicated is True


async def test_default_is_built_from_the_environment(
    testjobs: object,
    monkeypatch: pytest.MonkeyPatch,
    queue_settings: QueueSettings,
    temporal_server: TemporalDevServer,
    temporal_client: Client,
    heartbeat: Callable[..., str],
) -> None:
    monkeypatch.setenv("REDIS_URL", queue_settings.redis_url)
    monkeypatch.setenv("JOBRELAY_PREFIX", queue_settings.prefix)
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_server.address)
    monkeypatch.setenv("JOBRELAY_JOB_MODULES", "jobrelay_dispatch_testjobs")
    for var in ("USE_DRAMATIQ", "USE_DISPATCH_PROXY", "DISPATCH_PROXY_URL"):
        monkeypatch.delenv(var, raising=False)
    set_default_dispatcher(None)
    try:
        heartbeat("default")
        first = await dispatch_job("dsp.ping", {}, job_id=f"{queue_settings.prefix}env1")
        assert (first.engine, first.reason) == ("dramatiq", "ok")
        monkeypatch.setenv("USE_DRAMATIQ", "false")
        set_default_dispatcher(None)
        job_id = f"{queue_settings.prefix}env2"
        second = await asyncio.to_thread(dispatch_job_sync, "dsp.ping", {}, job_id=job_id)
        assert (second.engine, second.reason) == ("temporal", "flag_off")
        assert (await temporal_client.get_workflow_handle(job_id).describe()).id == job_id
        await temporal_client.get_workflow_handle(job_id).terminate("test over")
    finally:
        set_default_dispatcher(None)
