"""One error tree: each public exception under ``JobrelayError``, availability its own branch."""

from __future__ import annotations

import importlib

import pytest
from jobrelay.job_engine import JobrelayError, ServiceUnavailable

PACKAGES = [
    "jobrelay.job_engine",
    "jobrelay.queue",
    "jobrelay.dispatcher",
    "jobrelay.engines.dramatiq",
    "jobrelay.engines.temporal",
    "jobrelay.scheduler",
]
# The availability branch: what the dispatcher falls back on, or a caller retries.
AVAILABILITY = {
    "ServiceUnavailable",
    "RedisUnavailable",
    "TemporalUnavailable",
    "EngineUnavailable",
    "DispatchUnavailable",
    "StatusUnavailable",
    "IndexUnavailable",
}


def _public_exceptions() -> list[tuple[str, str, type[BaseException]]]:
    found = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                found.append((package, name, value))
    return found


EXCEPTIONS = _public_exceptions()


def test_the_walk_finds_every_package_s_errors() -> None:
    names = {name for _, name, _ in EXCEPTIONS}
    assert {"QueueError", "JobEngineError", "DispatcherError", "TemporalAdapterError"} <= names
    assert names >= AVAILABILITY


@pytest.mark.parametrize(("package", "name", "cls"), EXCEPTIONS, ids=lambda v: str(v))
def test_each_public_exception_is_a_jobrelay_error_that_says_when(
    package: str, name: str, cls: type[BaseException]
) -> None:
    assert issubclass(cls, JobrelayError), f"{package}.{name} is outside the tree"
    doc = (cls.__doc__ or "").strip()
    assert doc.startswith(("Raised when", "Raised by", "Raised at", "Base class")), (
        f"{package}.{name}: its docstring should say when it is raised: {doc!r}"
    )
    assert issubclass(cls, ServiceUnavailable) == (name in AVAILABILITY), name


def test_one_class_per_name_across_packages() -> None:
    by_name: dict[str, set[type[BaseException]]] = {}
    for _, name, cls in EXCEPTIONS:
        by_name.setdefault(name, set()).add(cls)
    assert {name: len(classes) for name, classes in by_name.items() if len(classes) > 1} == {}
