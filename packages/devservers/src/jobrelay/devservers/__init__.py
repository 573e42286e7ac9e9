"""Real Redis and Temporal servers on free loopback ports, for tests and ``jobrelay dev``."""

from ._process import ManagedProcess, free_port, port_open
from .redis_server import RedisServer, redis_server_binary
from .sentinel import RedisSentinel
from .temporal_server import TemporalDevServer, temporal_binary

__all__ = [
    "ManagedProcess",
    "RedisServer",
    "RedisSentinel",
    "TemporalDevServer",
    "free_port",
    "port_open",
    "redis_server_binary",
    "temporal_binary",
]
