"""deploy/render.py run the way CI runs it: a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "deploy" / "render.py"
TEMPLATES = sorted((ROOT / "deploy" / "k8s").glob("worker-*.yaml"))
WEB_TEMPLATE = ROOT / "deploy" / "k8s" / "web.yaml"
IMAGE = "ghcr.io/example/jobrelay/worker:0123456789abcdef0123456789abcdef01234567"


def render(
    template: Path, var: str, value: str | None, image: str = IMAGE
) -> subprocess.CompletedProcess[str]:
    """Run render.py with ``var`` set to ``value`` (unset when None) and nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKER_REPLICAS_")}
    if value is not None:
        env[var] = value
    return subprocess.run(
        [
            sys.executable,
            str(RENDER),
            "--template",
            str(template),
            "--replicas-env",
            var,
            "--image",
            image,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
