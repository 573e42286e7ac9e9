"""DramatiqKeys names the keys Dramatiq's own broker script really uses."""

from __future__ import annotations

import dramatiq
import redis
from jobrelay.engines.dramatiq import DramatiqKeys, make_broker
from jobrelay.queue import QueueSettings


def test_the_keys_are_where_dramatiq_puts_a_message(
    queue_settings: QueueSettings, redis_conn: redis.Redis
) -> None:
    broker = make_broker(queue_settings)
    keys = DramatiqKeys(broker.namespace)

    @dramatiq.actor(broker=broker, queue_name="default", actor_name="keyed")
    def keyed() -> None:
        pass

    keyed.send()
    [raw_id] = redis_conn.lrange(keys.queue("default"), 0, -1)
    redis_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
    assert redis_conn.hexists(keys.messages("default"), redis_id)

    message = next(broker.consume("default", prefetch=1, timeout=100))
    assert message is not None and message.options["redis_message_id"] == redis_id
    assert redis_conn.sismember(keys.acks(broker.broker_id, "default"), redis_id)

    # Nacked: Dramatiq moves it to the dead-letter zset, its data beside it.
    broker.do_nack("default", redis_id)
    assert redis_conn.zscore(keys.dead("default"), redis_id) is not None
    assert redis_conn.hexists(keys.messages("default.XQ"), redis_id)
