from __future__ import annotations

from typing import Any

from .context import JobContext
from .definition import JobDefinition

SUCCESS_HOOK_STEP = "jobrelay.on_success"
FAILURE_HOOK_STEP = "jobrelay.on_failure"


async def execute(definition: JobDefinition, ctx: JobContext, payload: Any) -> Any:
    """Run a job body on any engine: validate the payload, run, then the success hook."""
    data = definition.parse_payload(payload)
    result = await definition.func(ctx, data)
    if definition.on_success is not None:
        await ctx.run(SUCCESS_HOOK_STEP, definition.on_success, ctx.job_id, result)
    return result


async def run_failure_hook(definition: JobDefinition, ctx: JobContext, error: str) -> None:
    """Call ``on_failure`` once the engine has given up on the job."""
    if definition.on_failure is not None:
        await ctx.run(FAILURE_HOOK_STEP, definition.on_failure, ctx.job_id, error)
