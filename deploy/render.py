"""Render a Kubernetes manifest template with an image and a replica count.

    python deploy/render.py --template deploy/k8s/worker-run.yaml \\
        --replicas-env WORKER_REPLICAS_STAG --image ghcr.io/org/repo/worker:SHA

Templates hold ``${IMAGE}`` and ``${REPLICAS}``; the result goes to stdout.
Standard library only, so CI can run it with any Python 3.11 without installing.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

MAX_REPLICAS = 100
# Only the braced form: Kubernetes' own $(VAR) expansion must pass through untouched.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Not the full reference grammar: enough to keep spaces, quotes and newlines out of the YAML.
IMAGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*")


class RenderError(Exception):
    """A one-line reason why nothing can be rendered."""


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def replica_count(env: Mapping[str, str], name: str) -> int:
    """The replica count in ``env[name]``: a whole number from 0 to ``MAX_REPLICAS``."""
    if name not in env:
        raise RenderError(f"{name} is not set")
    raw = env[name].strip()
    if not raw:
        # An undefined GitHub secret arrives as an empty string, not as a missing variable.
        raise RenderError(f"{name} is empty (is the secret defined?)")
    # int() alone would also take "+3", "1_0" and non-ASCII digits.
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) > MAX_REPLICAS:
        raise RenderError(
            f"{name} must be an integer from 0 to {MAX_REPLICAS}, got {_shown(env[name])}"
        )
    return int(raw)


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with every placeholder filled; unknown, malformed or unused ones are errors."""
    found = set(PLACEHOLDER.findall(template))
    unknown = sorted(found - values.keys())
    if unknown:
        raise RenderError(f"unknown placeholder {', '.join('${' + n + '}' for n in unknown)}")
    if "${" in PLACEHOLDER.sub("", template):
        raise RenderError("malformed placeholder (want ${NAME})")
    unused = sorted(values.keys() - found)
    if unused:
        raise RenderError(f"no {', '.join('${' + n + '}' for n in unused)} placeholder")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: errors go to stderr as one line, with exit status 1."""
    parser = argparse.ArgumentParser(
        description="Render a manifest template with an image and a replica count."
    )
    parser.add_argument("--template", required=True, type=Path, help="manifest template")
    parser.add_argument(
        "--replicas-env", required=True, help="environment variable holding the replica count"
    )
    parser.add_argument("--image", required=True, help="image reference, e.g. REGISTRY/NAME:TAG")
    args = parser.parse_args(argv)
    try:
        replicas = replica_count(os.environ, args.replicas_env)
        if not IMAGE_REF.fullmatch(args.image):
            raise RenderError(f"--image is not an image reference, got {_shown(args.image)}")
        try:
            template = args.template.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RenderError(f"cannot read template {args.template}: {exc}") from None
        try:
            out = render(template, {"IMAGE": args.image, "REPLICAS": str(replicas)})
        except RenderError as exc:
            raise RenderError(f"{args.template}: {exc}") from None
    except RenderError as exc:
        print(f"render.py: error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
