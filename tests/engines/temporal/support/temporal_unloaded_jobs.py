"""A job module that no test worker names in ``job_modules``.

The test process imports it, so the job is known outside the sandbox; the
workflow sandbox must still refuse it, naming the module, instead of
importing it at run time.
"""

from __future__ import annotations

from jobrelay.job_engine import JobContext, job
from temporal_adapter_test_jobs import Probe


@job("trt.unloaded", queue="default")
async def unloaded(ctx: JobContext, data: Probe) -> int:
    return 1
