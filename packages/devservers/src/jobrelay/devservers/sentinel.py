"""A real Redis Sentinel: the same redis-server binary, run with ``--sentinel``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ._process import ManagedProcess, free_port
from .redis_server import redis_server_binary


class RedisSentinel:
    """A sentinel on a free loopback port watching the master on ``master_port``.

    ``quorum`` sentinels must agree the master is down, after
    ``down_after_ms`` without an answer, before one fails it over (a test
    wants seconds, not production's 30 s).
    """

    def __init__(
        self,
        master_port: int,
        *,
        master_name: str = "jobrelay",
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> None:
        self.port = free_port()
        self.master_name = master_name
        self.data_dir = Path(tempfile.mkdtemp(prefix="jobrelay-sentinel-"))
        # A sentinel rewrites its config file as it learns: it must be its own and writable.
        conf = self.data_dir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.data_dir}\n"
            f"sentinel monitor {master_name} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}\n"
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {master_name} 1\n"
        )
        argv = [redis_server_binary(), str(conf), "--sentinel"]
        self._proc = ManagedProcess(argv, self.data_dir / "sentinel.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def start(self, timeout_s: float = 10.0) -> RedisSentinel:
        self._proc.start()
        self._proc.wait_port(self.port, timeout_s)
        return self

    def stop(self) -> None:
        self._proc.stop()

    def __enter__(self) -> RedisSentinel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
