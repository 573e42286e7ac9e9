"""Jobs on Dramatiq, the producer side: the broker, its key layout, the adapter that sends.

The worker side (the job runner, the consumer, the job context, draining and
maintenance) is ``jobrelay.engines.dramatiq.worker``; a process that only
dispatches never imports it.
"""

from .broker import PRIORITY_OPTION, DramatiqKeys, JobrelayBroker, MessageAck, make_broker
from .deadletter import DeadLetter
from .messages import actor_name
from .producer import WAKEUP_DELAY_S, DramatiqAdapter

__all__ = [
    # Broker
    "make_broker",
    "JobrelayBroker",
    "PRIORITY_OPTION",
    "DramatiqKeys",
    "MessageAck",
    # Sending
    "DramatiqAdapter",
    "actor_name",
    "WAKEUP_DELAY_S",
    # Dead letters
    "DeadLetter",
]
