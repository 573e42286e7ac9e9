"""``Dispatcher.connect``: Temporal connected before the first dispatch, never a hang."""

from __future__ import annotations

from jobrelay.devservers import TemporalDevServer, free_port
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.queue import QueueSettings


def _dispatcher(address: str, queue_settings: QueueSettings) -> Dispatcher:
    settings = DispatcherSettings(temporal_address=address, use_dispatch_proxy=False)
    built = build_dispatcher(settings, queue_settings, discover=False)
    assert isinstance(built, Dispatcher)
    return built


async def test_connect_makes_the_temporal_client_before_any_dispatch(
    temporal_server: TemporalDevServer, queue_settings: QueueSettings
) -> None:
    built = _dispatcher(temporal_server.address, queue_settings)
    assert await built.connect() is True
    # The link now holds the engine: a dispatch pays no connect.
    assert built.temporal.connected
    await built.aclose()


async def test_connect_to_a_server_that_is_not_there_gives_up_and_leaves_it_for_later(
    queue_settings: QueueSettings,
) -> None:
    built = _dispatcher(f"127.0.0.1:{free_port()}", queue_settings)
    assert await built.connect(timeout_s=3) is False
    assert not built.temporal.connected
    await built.aclose()
