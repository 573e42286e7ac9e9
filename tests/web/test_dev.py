from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# The whole local system starts and runs a job here: its own waits add up
# past the suite's 120 s per test.
pytestmark = pytest.mark.timeout(300)


def test_jobrelay_dev_runs_a_job_on_each_engine(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "jobrelay"
    done = subprocess.run(
        [str(cli), "dev", "--once", "--data-dir", str(tmp_path / "dev")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert '"engine": "dramatiq", "reason": "ok"' in out
    assert '"engine": "temporal", "reason": "no_live_worker"' in out
    assert out.count('result: {"counted": [3, 2, 1]}') == 2
    assert out.rstrip().endswith("stopped")
