"""JSON for step results, payloads and job results: never pickle."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pydantic_core
from pydantic import TypeAdapter


def dumps(value: Any) -> str:
    """Encode ``value`` (JSON types, pydantic models, dataclasses) as JSON text."""
    return pydantic_core.to_json(value).decode()


def loads(raw: str | bytes, type_: Any = Any) -> Any:
    """Decode JSON text, validating into ``type_`` (a pydantic model, say) when given."""
    if type_ is Any:
        return pydantic_core.from_json(raw)
    return _adapter(type_).validate_json(raw)


@lru_cache(maxsize=512)
def _adapter(type_: Any) -> TypeAdapter[Any]:
    # Building an adapter costs far more than validating with one.
    return TypeAdapter(type_)


def text(value: object) -> str:
    """A Redis reply as ``str``, whichever way the client decodes."""
    return value.decode() if isinstance(value, bytes) else str(value)
