from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from jobrelay.job_engine import JobDefinitionError, JobEngineSettings, discover_jobs, get_job
from jobrelay.job_engine.testing import LocalContext, run_local


async def test_discovers_a_user_module_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = uuid.uuid4().hex[:8]
    module = f"acme_jobs_{suffix}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            f"""
            from pydantic import BaseModel
            from jobrelay.job_engine import JobContext, job

            class Greeting(BaseModel):
                name: str

            def shout(text: str) -> str:
                return text.upper()

            @job("acme.greet_{suffix}", queue="default")
            async def greet(ctx: JobContext, data: Greeting) -> str:
                return await ctx.run("shout", shout, f"hello {{data.name}}")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("JOBRELAY_JOB_MODULES", f" {module} , ")

    settings = JobEngineSettings()
    assert settings.job_modules == [module]
    names = {d.name for d in discover_jobs(settings.job_modules)}

    assert f"acme.greet_{suffix}" in names
    assert {"booking.send_confirmation", "calendar.sync", "booking.send_reminder"} <= names
    assert get_job(f"acme.greet_{suffix}").func.__module__ == module
    ctx = LocalContext()
    assert await run_local(f"acme.greet_{suffix}", {"name": "ada"}, ctx) == "HELLO ADA"
    assert ctx.steps == ["shout"]


def test_a_missing_module_is_named() -> None:
    with pytest.raises(JobDefinitionError, match="no_such_jobs_module"):
        discover_jobs(["no_such_jobs_module"])
