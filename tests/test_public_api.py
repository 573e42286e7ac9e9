"""Each package exposes exactly its ``__all__``, holding the names docs/architecture.md lists."""

from __future__ import annotations

import importlib
import types

import pytest

REQUIRED = {
    "jobrelay.queue": {
        "QueueSpec",
        "QUEUES",
        "get_queue",
        "RedisHealth",
        "JobStore",
        "WorkerRegistry",
        "redis_client",
        "QueueSettings",
        "AsyncRedis",
        "RedisCall",
        "JobIndex",
        "JobFilter",
    },
    "jobrelay.job_engine": {
        "job",
        "JobContext",
        "JobDefinition",
        "get_job",
        "list_jobs",
        "PermanentError",
        "JobCancelled",
        "Schedule",
        "list_schedules",
    },
    "jobrelay.scheduler": {"Scheduler", "ScheduleStore", "fire", "due_ticks"},
    "jobrelay.devservers": {"RedisServer", "TemporalDevServer", "free_port"},
    "jobrelay.engines": {"EngineJob", "DramatiqEngine", "TemporalEngine"},
    "jobrelay.engines.dramatiq": {"DramatiqAdapter", "make_broker", "DramatiqKeys", "DeadLetter"},
    "jobrelay.engines.dramatiq.worker": {"start_worker", "drain", "DramatiqContext"},
    "jobrelay.engines.temporal": {
        "connect",
        "TemporalAdapter",
        "JobOutcome",
        "TemporalUnavailable",
    },
    "jobrelay.engines.temporal.worker": {"make_worker", "JobWorkflow", "JobActivities"},
    "jobrelay.web.ui": {"router"},
}


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"annotations"}
    }


@pytest.mark.parametrize("module_name", sorted(REQUIRED))
def test_all_lists_exactly_the_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert _public_names(module) == exported
    assert REQUIRED[module_name] <= exported


# Imports run one way (docs/architecture.md, Layers): what each package must never load.
FORBIDDEN = {
    "jobrelay.job_engine": (
        "dramatiq", "temporalio", "jobrelay.queue", "jobrelay.engines",
        "jobrelay.dispatcher", "jobrelay.worker", "jobrelay.web",
    ),
    "jobrelay.queue": (
        "dramatiq", "temporalio", "jobrelay.engines", "jobrelay.dispatcher",
        "jobrelay.worker", "jobrelay.web",
    ),
    "jobrelay.engines": ("jobrelay.dispatcher", "jobrelay.worker", "jobrelay.web"),
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_one_way(package: str) -> None:
    import subprocess
    import sys

    # The engines package is checked with both engines and both sides loaded.
    loads = {
        "jobrelay.job_engine": "import jobrelay.job_engine as je; je.discover_jobs()",
        "jobrelay.queue": "import jobrelay.queue",
        "jobrelay.engines": (
            "import jobrelay.engines.dramatiq.worker, jobrelay.engines.temporal.worker"
        ),
    }[package]
    code = (
        f"import sys; {loads}; forbidden = {FORBIDDEN[package]!r};"
        "bad = sorted(m for m in sys.modules"
        " if any(m == f or m.startswith(f + '.') for f in forbidden));"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
