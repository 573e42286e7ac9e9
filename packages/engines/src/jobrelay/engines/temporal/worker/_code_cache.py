"""Compiled code of sandbox-loaded modules, kept in memory across workflow runs.

The sandbox executes the job modules again for every workflow run. Without
this cache each such import reads and unmarshals a ``.pyc``, or, where
bytecode is not written (``PYTHONDONTWRITEBYTECODE``, a read-only image),
compiles the source again: milliseconds per module per run. Executing a
module still happens for each run, which is what the sandbox's isolation
needs; only the compile is shared. Outside the sandbox this finder does
nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType

from temporalio import workflow

_codes: dict[str, CodeType] = {}
_install_lock = threading.Lock()


class _CachedSourceLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        code = _codes.get(self.path)
        if code is None:
            compiled = super().get_code(fullname)
            assert compiled is not None  # a source file always compiles or raises
            code = _codes.setdefault(self.path, compiled)
        return code


class SandboxCodeCache(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``; finds source modules for the sandbox only."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not workflow.unsafe.in_sandbox():
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if (
            spec is None
            or type(spec.loader) is not importlib.machinery.SourceFileLoader
            or spec.origin is None
        ):
            return None
        spec.loader = _CachedSourceLoader(fullname, spec.origin)
        return spec


def install_code_cache() -> None:
    """Put the cache first on ``sys.meta_path``, once per process."""
    with _install_lock:
        if not any(isinstance(f, SandboxCodeCache) for f in sys.meta_path):
            sys.meta_path.insert(0, SandboxCodeCache())
