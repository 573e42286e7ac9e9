"""What Temporal's workflow sandbox loads for each run, and what it shares.

The sandbox runs each workflow against fresh copies of the modules it is not
told to share, so job code that reads the clock or does I/O between steps
fails instead of running silently. jobrelay keeps that for the job modules
only: they are imported again for every run, all at once, when the sandbox
loads the workflow module (never from inside ``JobWorkflow.run``: an import
on a workflow thread, racing the event loop's, can deadlock CPython 3.10 and
3.11's module locks for good). jobrelay's own framework modules are shared
("passed through"): they hold no job code, and importing them again costs
more than a whole workflow run.

Which job modules one load imports: the one holding the job, named by the
workflow's memo (``JobSandboxRunner`` reads it before the load), else every
registered job module (a workflow started without the memo, and the
validation load at worker start, which so checks them all).

This module is itself shared with the sandbox, so the list of job modules a
worker registered is the same object inside and out.
"""

from __future__ import annotations

import builtins
import os
import pkgutil
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from jobrelay.job_engine import (
    BUILTIN_JOBS_PACKAGE,
    JobDefinition,
    UnknownJob,
    collect_jobs,
    get_job,
)
from temporalio import workflow
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

# jobrelay's own packages: everything in them but job code may be shared.
FRAMEWORK_PACKAGES = (
    "jobrelay.queue",
    "jobrelay.job_engine",
    "jobrelay.engines",
    "jobrelay.dispatcher",
)
WORKFLOW_MODULE = f"{__package__}.workflow"

# The memo key the dispatcher sets to the job's name.
MEMO_JOB_NAME = "name"

_job_modules: dict[str, None] = {}  # insertion-ordered set
_lock = threading.Lock()
# Set by JobSandboxRunner around the load it starts, on the thread doing it.
_loading = threading.local()


def register_job_modules(modules: Iterable[str]) -> tuple[str, ...]:
    """Have every later sandbox load import ``modules`` (with the built-in jobs).

    Process-wide: the sandbox loads the union of what this process's workers
    registered. Returns that union.
    """
    with _lock:
        for name in [BUILTIN_JOBS_PACKAGE, *_walk(BUILTIN_JOBS_PACKAGE), *modules]:
            _job_modules.setdefault(name, None)
        return tuple(_job_modules)


def job_modules() -> tuple[str, ...]:
    """The job modules a sandbox load imports, in the order they were registered."""
    return tuple(_job_modules)


@dataclass(frozen=True)
class SandboxJobs:
    """The job definitions one sandbox load found, and the modules that failed."""

    definitions: dict[str, JobDefinition] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    modules: tuple[str, ...] = ()

    def missing(self, name: str, module: str | None) -> str:
        """Why job ``name`` (defined in ``module`` outside the sandbox) is not here."""
        if module is None:
            return f"unknown job {name!r}: this worker has no job of that name"
        if module in self.failures:
            return (
                f"job {name!r}: its module {module!r} failed to load in the "
                f"workflow sandbox: {self.failures[module]}"
            )
        if module not in self.modules:
            return (
                f"job {name!r}: its module {module!r} is not one this worker loads "
                "for workflows; name it in JOBRELAY_JOB_MODULES"
            )
        return f"job {name!r}: its module {module!r} declared no such job in the workflow sandbox"


def load_sandbox_jobs() -> SandboxJobs | None:
    """Import every registered job module afresh; None outside the sandbox.

    Called by the workflow module as the sandbox loads it, on the one thread
    that creates workflow instances. A module that fails to import fails only
    the jobs it holds, with its error, instead of every workflow.
    """
    if not workflow.unsafe.in_sandbox():
        return None
    chosen: tuple[str, ...] | None = getattr(_loading, "modules", None)
    modules = job_modules() if chosen is None else chosen
    failures: dict[str, str] = {}
    with (
        workflow.unsafe.sandbox_import_notification_policy(
            workflow.SandboxImportNotificationPolicy.SILENT
        ),
        collect_jobs() as found,
    ):
        for name in modules:
            try:
                # The builtin __import__ is the sandbox's: the module gets
                # restricted copies of datetime, random and the rest.
                builtins.__import__(name)
            except Exception as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
    return SandboxJobs(found, failures, modules)


class JobSandboxRunner(SandboxedWorkflowRunner):
    """The sandboxed runner, loading only the job module the new workflow needs."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """Create the instance with the job modules of ``det``'s job in the load."""
        with _loading_modules(_modules_for(det)):
            return super().create_instance(det)


def _modules_for(det: WorkflowInstanceDetails) -> tuple[str, ...] | None:
    # None: load every registered module (no memo, as in the validation load).
    payload = det.info.raw_memo.get(MEMO_JOB_NAME)
    if payload is None:
        return None
    try:
        name = det.payload_converter_factory().from_payload(payload, str)
    except Exception:
        return None  # an unreadable memo: load everything rather than guess
    module = job_module(name)
    # No module: the workflow fails naming the jobs this worker knows.
    return (module,) if module in _job_modules else ()


def job_module(name: str) -> str | None:
    """The module defining job ``name`` in this worker's registry; None for an unknown job."""
    try:
        return get_job(name).func.__module__
    except UnknownJob:
        return None


@contextmanager
def _loading_modules(modules: tuple[str, ...] | None) -> Iterator[None]:
    previous = getattr(_loading, "modules", None)
    _loading.modules = modules
    try:
        yield
    finally:
        _loading.modules = previous


def shared_framework_modules() -> list[str]:
    """jobrelay modules the sandbox may pass through: all but job code and its packages.

    A passthrough name covers the modules below it, so the packages above
    the workflow module and above each job module are left out (they are
    re-run in the sandbox, which costs little: their contents are shared).
    """
    fresh = {WORKFLOW_MODULE, *job_modules()}
    above = {parent for name in fresh for parent in _parents(name)}
    shared = []
    for package in FRAMEWORK_PACKAGES:
        for name in [package, *_walk(package)]:
            if name in above or any(_within(name, f) for f in fresh):
                continue
            shared.append(name)
    return shared


def _walk(package: str) -> Iterator[str]:
    # Lists submodules without importing them (pkgutil.walk_packages imports
    # each subpackage, which would load Dramatiq into a Temporal worker).
    module = sys.modules.get(package) or __import__(package, fromlist=["__name__"])
    yield from _walk_paths(package, list(getattr(module, "__path__", [])))


def _walk_paths(package: str, paths: list[str]) -> Iterator[str]:
    for info in pkgutil.iter_modules(paths):
        name = f"{package}.{info.name}"
        yield name
        if info.ispkg:
            finder_path = getattr(info.module_finder, "path", None)
            if finder_path is not None:
                yield from _walk_paths(name, [os.path.join(finder_path, info.name)])


def _parents(name: str) -> Iterator[str]:
    parts = name.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")
