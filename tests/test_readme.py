"""README.md stays true: each setting with its real default; CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jobrelay.dispatcher import DispatcherSettings
from jobrelay.job_engine import JobEngineSettings
from jobrelay.job_engine.jobs.api import ApiSettings
from jobrelay.queue import QueueSettings
from jobrelay.web import WebSettings
from jobrelay.web.settings import CliSettings
from jobrelay.worker.settings import WorkerSettings
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
ROWS = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|", README, flags=re.M))
MODELS: list[type[BaseSettings]] = [
    QueueSettings,
    JobEngineSettings,
    DispatcherSettings,
    WebSettings,
    CliSettings,
    WorkerSettings,
    ApiSettings,
]


def _env_fields() -> list[tuple[str, Any]]:
    out = []
    for model in MODELS:
        for field in model.model_fields.values():
            alias = field.validation_alias
            names = alias.choices if isinstance(alias, AliasChoices) else [alias]
            env = [n for n in names if isinstance(n, str) and n.isupper()]
            if env:
                out.append((env[0], field.get_default(call_default_factory=True)))
    return out


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_every_documented_setting_exists() -> None:
    known = {env for env, _ in _env_fields()}
    assert sorted(set(ROWS) - known) == [], "README documents settings nothing reads"


@pytest.mark.parametrize(("env", "default"), _env_fields())
def test_setting_is_documented_with_its_default(env: str, default: Any) -> None:
    assert env in ROWS, f"{env} is missing from the README configuration table"
    cell = ROWS[env].strip()
    if default in (None, [], {}):
        assert not cell.startswith("`"), f"{env}: README shows {cell}, code has no default"
    else:
        assert cell == f"`{_shown(default)}`", f"{env}: README says {cell}, code says {default!r}"


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"^(uv run pytest)\b", README, flags=re.M)
    assert commands, "README has no test command"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    # CI may bound the command in time (`timeout ... uv run pytest`), no more.
    runs = [line for line in ci if line == commands[0] or line.endswith(f" {commands[0]}")]
    assert runs, "CI does not run the README's test command"
    assert all(line == commands[0] or line.startswith("timeout ") for line in runs)
