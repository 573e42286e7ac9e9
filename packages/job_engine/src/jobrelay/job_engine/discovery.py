from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from .definition import JobDefinition
from .errors import JobDefinitionError
from .registry import list_jobs

BUILTIN_JOBS_PACKAGE = "jobrelay.job_engine.jobs"


def discover_jobs(extra_modules: Iterable[str] = ()) -> list[JobDefinition]:
    """Import every module under ``jobrelay.job_engine.jobs`` and ``extra_modules``.

    Importing a module runs its ``@job`` decorators. A module that cannot be
    imported is a :class:`JobDefinitionError` naming it: a worker must not
    start with half its jobs missing.
    """
    package = importlib.import_module(BUILTIN_JOBS_PACKAGE)
    names = [
        info.name
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{BUILTIN_JOBS_PACKAGE}.")
    ]
    for module in [*names, *extra_modules]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise JobDefinitionError(f"cannot import job module {module!r}: {exc}") from exc
    return list_jobs()
