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
        "make_broker",
        "redis_client",
        "QueueSettings",
    },
    "jobrelay.job_engine": {
        "job",
        "JobContext",
        "JobDefinition",
        "get_job",
        "list_jobs",
        "PermanentError",
        "JobCancelled",
    },
    "jobrelay.devservers": {"RedisServer", "TemporalDevServer", "free_port"},
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


def test_job_engine_imports_no_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys, jobrelay.job_engine as je; je.discover_jobs();"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'dramatiq', 'temporalio'}"
        " or m.startswith(('jobrelay.queue', 'jobrelay.dispatcher',"
        " 'jobrelay.worker', 'jobrelay.web')));"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
