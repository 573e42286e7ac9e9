"""The dispatcher's own Dramatiq message is the message the adapter would send."""

from __future__ import annotations

from types import ModuleType

import pydantic_core
import pytest
from dramatiq import Message
from jobrelay.dispatcher.fast_enqueue import DramatiqMessages
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.messages import message_options
from jobrelay.job_engine import get_job
from jobrelay.queue import JobStore, QueueSettings, get_queue


@pytest.mark.parametrize(
    ("job_id", "payload"),
    [
        ("plain", {"n": 1, "note": ""}),
        ('quo"te\\s', {"n": 2, "note": 'caf\u00e9 \u2603 "x" \n'}),
    ],
)
def test_message_matches_the_adapters(
    testjobs: ModuleType,
    queue_settings: QueueSettings,
    store: JobStore,
    job_id: str,
    payload: dict[str, object],
) -> None:
    adapter = DramatiqAdapter(make_broker(queue_settings), store, queue_settings)
    job = EngineJob(job_id=job_id, name="dsp.ping", queue="default", payload=payload)
    built = DramatiqMessages(adapter)(job, None, pydantic_core.to_json(payload).decode())
    assert built is not None
    message = Message.decode(built.data)
    expected = adapter.actor("default").message_with_options(
        args=(job_id, "dsp.ping", payload),
        **message_options(get_job("dsp.ping"), get_queue("default")),
    )
    assert (message.queue_name, message.actor_name, message.args, message.kwargs) == (
        expected.queue_name,
        expected.actor_name,
        expected.args,
        expected.kwargs,
    )
    assert message.options == {**expected.options, "redis_message_id": built.message_id}
    assert built.queue_key == f"{queue_settings.keys.dramatiq_namespace}:default"
    assert built.messages_key == f"{built.queue_key}.msgs"


def test_delayed_jobs_take_the_adapters_path(
    testjobs: ModuleType, queue_settings: QueueSettings, store: JobStore
) -> None:
    adapter = DramatiqAdapter(make_broker(queue_settings), store, queue_settings)
    job = EngineJob(job_id="d", name="dsp.ping", queue="default", payload={})
    assert DramatiqMessages(adapter)(job, 5.0, "{}") is None
