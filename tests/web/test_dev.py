from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobrelay.devservers import free_port

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


def _clean_env() -> dict[str, str]:
    """A second terminal's environment: nothing of jobrelay's set."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "UV_", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k.startswith(keep)}


def test_the_readme_commands_reach_a_running_dev_stack_from_a_clean_shell(tmp_path: Path) -> None:
    scripts = Path(sys.executable).parent
    dev = subprocess.Popen(
        [str(scripts / "jobrelay"), "dev", "--no-demo"],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    env_file = tmp_path / ".jobrelay-dev" / "env"
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            assert dev.poll() is None, "jobrelay dev exited early"
            assert time.monotonic() < deadline, "jobrelay dev never wrote its addresses"
            time.sleep(0.2)
        # The README's own line, from another directory's point of view: the
        # same working directory, none of the stack's settings.
        sent = subprocess.run(
            [str(scripts / "jobrelay"), "dispatch", "demo.countdown", "--payload", '{"start": 2}'],
            cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        receipt = json.loads(sent.stdout)
        state = ""
        while state != "succeeded" and time.monotonic() < deadline:
            shown = subprocess.run(
                [str(scripts / "jobrelay"), "status", receipt["job_id"]],
                cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert shown.returncode == 0, shown.stderr
            state = json.loads(shown.stdout)["state"]
            time.sleep(0.2)
        assert state == "succeeded"
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        out, _ = dev.communicate(timeout=60)
    assert out.rstrip().endswith("stopped"), out[-2000:]
    assert not env_file.exists(), "a stopped stack leaves no addresses behind"


def test_a_cli_failure_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    scripts = Path(sys.executable).parent
    nowhere = {
        **_clean_env(),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    for argv in (["dispatch", "demo.countdown"], ["status", "some-job"], ["dispatch", "no.such"]):
        done = subprocess.run(
            [str(scripts / "jobrelay"), *argv],
            cwd=tmp_path, env=nowhere, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1, (argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("error: "), done.stderr
