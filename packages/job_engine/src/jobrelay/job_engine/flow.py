"""Flow control declared on a job: keyed concurrency, rate limits, uniqueness windows.

What ``@job(concurrency_limit=..., rate_limit=..., unique_for=...)`` declares,
checked when the job module is imported, and the keys read from a payload.
The engines enforce it (in Redis, across both engines); this module only
knows the declaration, so it stays free of any engine or Redis import.

A key is read from a payload in one of three ways:

- a field name (``"calendar_id"``): that field of the payload;
- a format string (``"{tenant}:{calendar_id}"``): ``str.format`` over the
  payload's fields (as JSON: nested models are dicts, so ``{user[id]}``);
- a function of the payload (what the job body receives, the model
  instance), returning anything; it must be deterministic, since a Temporal
  workflow computes it again when it replays.

Without a key, the limit or window covers every job of the name as one key.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel

from .errors import InvalidPayload, JobDefinitionError

KeySource = str | Callable[[Any], Any]
"""How ``concurrency_key``, ``rate_key`` and ``unique_key`` are declared."""

# The key of a job declared without one: all jobs of the name share it.
WHOLE_JOB_KEY = "*"

# Longer key values are hashed: a key name in Redis should stay short.
_MAX_KEY_CHARS = 200

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|m|h)\s*$")
_PER_S = {"s": 1.0, "m": 60.0, "h": 3600.0}

# Priorities at dispatch: a name, or Temporal's priority keys (1 highest, 5 lowest).
PRIORITY_NAMES: Mapping[str, int] = {"high": 1, "normal": 3, "low": 5}
PRIORITY_RANGE = range(1, 6)
DEFAULT_PRIORITY = 3


def priority_key(value: str | int | None) -> int:
    """A dispatch's ``priority`` as a key from 1 (first) to 5 (last); 3 when None.

    ``high``, ``normal`` and ``low`` are 1, 3 and 5. Raises ``ValueError``
    saying what is accepted.
    """
    if value is None:
        return DEFAULT_PRIORITY
    if isinstance(value, str):
        named = PRIORITY_NAMES.get(value.strip().lower())
        if named is not None:
            return named
        if value.strip().isdigit():
            value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value in PRIORITY_RANGE:
        return value
    raise ValueError(f"must be high, normal, low or an integer from 1 (first) to 5, got {value!r}")


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate limit: at most ``count`` starts per ``per_s`` seconds, evenly spaced."""

    count: int
    per_s: float
    text: str

    @property
    def interval_s(self) -> float:
        """The period shared out over the count. The engines space turns a little
        more (a margin for the time from a turn to its step's start: README, Flow control)."""
        return self.per_s / self.count


def parse_rate(text: str) -> Rate:
    """``"100/m"`` (also ``/s``, ``/h``) as a :class:`Rate`; ``ValueError`` otherwise."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"must look like '100/m' (a count per s, m or h), got {text!r}")
    count = int(match.group(1))
    if count < 1:
        raise ValueError(f"must allow at least 1 start, got {text!r}")
    return Rate(count=count, per_s=_PER_S[match.group(2)], text=text.strip())


@dataclass(frozen=True, slots=True)
class FlowKey:
    """How one key is read from a payload (see the module docstring)."""

    source: KeySource

    def describe(self) -> str:
        """The declaration, for people: the field, the format, or the function's name."""
        if callable(self.source):
            return f"{getattr(self.source, '__qualname__', repr(self.source))}()"
        return self.source

    def value(self, data: Mapping[str, Any], parsed: Any) -> str:
        """The key of a payload: ``data`` is its JSON form, ``parsed`` what the body gets."""
        source = self.source
        if callable(source):
            raw = source(parsed)
        elif "{" in source:
            raw = source.format_map(data)
        else:
            raw = data.get(source)
        return key_text(raw)


def key_text(raw: Any) -> str:
    """A key's value as text: strings as they are, anything else as compact JSON."""
    text = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)
    if len(text) > _MAX_KEY_CHARS:
        return "sha1:" + hashlib.sha1(text.encode()).hexdigest()
    return text


class FlowKeys(NamedTuple):
    """The keys one payload falls under; None where the job declares no such control."""

    concurrency: str | None
    rate: str | None
    unique: str | None


@dataclass(frozen=True, slots=True)
class FlowControl:
    """A job's flow control, as declared on ``@job`` (everything None: none)."""

    concurrency_limit: int | None = None
    concurrency_key: FlowKey | None = None
    rate: Rate | None = None
    rate_key: FlowKey | None = None
    unique_for_s: float | None = None
    unique_key: FlowKey | None = None

    @property
    def limits_starts(self) -> bool:
        """Whether a start must first get a slot or a turn (concurrency or rate)."""
        return self.concurrency_limit is not None or self.rate is not None

    @property
    def declared(self) -> bool:
        """Whether any flow control is declared."""
        return self.limits_starts or self.unique_for_s is not None

    def keys(self, name: str, data: Mapping[str, Any], parsed: Any) -> FlowKeys:
        """The keys of a payload (``data`` its JSON form, ``parsed`` what the body gets).

        A key function that raises makes the payload invalid:
        :class:`InvalidPayload` names the key.
        """
        return FlowKeys(
            concurrency=self._key(name, "concurrency_key", self.concurrency_key, data, parsed)
            if self.concurrency_limit is not None
            else None,
            rate=self._key(name, "rate_key", self.rate_key, data, parsed)
            if self.rate is not None
            else None,
            unique=self._unique(name, data, parsed) if self.unique_for_s is not None else None,
        )

    def describe(self) -> dict[str, Any]:
        """The declaration as JSON-ready values (the job detail and the queue view show it)."""
        out: dict[str, Any] = {}
        if self.concurrency_limit is not None:
            out["concurrency_limit"] = self.concurrency_limit
            key = self.concurrency_key
            out["concurrency_key"] = key.describe() if key else None
        if self.rate is not None:
            out["rate_limit"] = self.rate.text
            out["rate_key"] = self.rate_key.describe() if self.rate_key else None
        if self.unique_for_s is not None:
            out["unique_for_s"] = self.unique_for_s
            out["unique_key"] = self.unique_key.describe() if self.unique_key else None
        return out

    @staticmethod
    def _key(
        name: str, what: str, key: FlowKey | None, data: Mapping[str, Any], parsed: Any
    ) -> str:
        if key is None:
            return WHOLE_JOB_KEY
        try:
            return key.value(data, parsed)
        except Exception as exc:  # a key function is user code
            raise InvalidPayload(
                name, [{"loc": (what,), "msg": f"{type(exc).__name__}: {exc}"}]
            ) from exc

    def _unique(self, name: str, data: Mapping[str, Any], parsed: Any) -> str:
        if self.unique_key is None:
            # The whole payload is the key: the same payload twice is a duplicate.
            canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
            return "sha1:" + hashlib.sha1(canonical.encode()).hexdigest()
        return self._key(name, "unique_key", self.unique_key, data, parsed)


def build_flow(
    where: str,
    payload_model: type[BaseModel] | None,
    *,
    concurrency_limit: int | None = None,
    concurrency_key: KeySource | None = None,
    rate_limit: str | None = None,
    rate_key: KeySource | None = None,
    unique_for: timedelta | float | None = None,
    unique_key: KeySource | None = None,
) -> FlowControl:
    """Check a job's flow-control arguments (``where`` names the job in errors)."""
    if concurrency_limit is not None and (
        isinstance(concurrency_limit, bool)
        or not isinstance(concurrency_limit, int)
        or concurrency_limit < 1
    ):
        raise JobDefinitionError(
            f"{where}: concurrency_limit must be a positive integer, got {concurrency_limit!r}"
        )
    if concurrency_key is not None and concurrency_limit is None:
        raise JobDefinitionError(f"{where}: concurrency_key needs a concurrency_limit")
    rate = None
    if rate_limit is not None:
        try:
            rate = parse_rate(rate_limit)
        except ValueError as exc:
            raise JobDefinitionError(f"{where}: rate_limit {exc}") from None
    if rate_key is not None and rate is None:
        raise JobDefinitionError(f"{where}: rate_key needs a rate_limit")
    unique_for_s = None
    if unique_for is not None:
        seconds = (
            unique_for.total_seconds()
            if isinstance(unique_for, timedelta)
            else float(unique_for)
            if isinstance(unique_for, int | float) and not isinstance(unique_for, bool)
            else None
        )
        if seconds is None or not seconds > 0:
            raise JobDefinitionError(
                f"{where}: unique_for must be a positive timedelta (or seconds), got {unique_for!r}"
            )
        unique_for_s = seconds
    if unique_key is not None and unique_for_s is None:
        raise JobDefinitionError(f"{where}: unique_key needs a unique_for window")
    return FlowControl(
        concurrency_limit=concurrency_limit,
        concurrency_key=_flow_key(where, "concurrency_key", concurrency_key, payload_model),
        rate=rate,
        rate_key=_flow_key(where, "rate_key", rate_key, payload_model),
        unique_for_s=unique_for_s,
        unique_key=_flow_key(where, "unique_key", unique_key, payload_model),
    )


def _flow_key(
    where: str, what: str, source: KeySource | None, payload_model: type[BaseModel] | None
) -> FlowKey | None:
    if source is None:
        return None
    if callable(source):
        return FlowKey(source)
    if not isinstance(source, str) or not source.strip():
        raise JobDefinitionError(
            f"{where}: {what} must be a payload field name, a format string over the"
            f" payload's fields, or a function of the payload; got {source!r}"
        )
    if "{" in source:
        fields = _format_fields(where, what, source)
    elif source.isidentifier():
        fields = [source]
    else:
        raise JobDefinitionError(
            f"{where}: {what} {source!r} is neither a field name nor a format string"
            " ('{field}' or '{a}:{b}')"
        )
    if payload_model is not None:
        known = payload_model.model_fields
        for field in fields:
            if field not in known:
                raise JobDefinitionError(
                    f"{where}: {what} {source!r} names field {field!r}, which payload"
                    f" {payload_model.__name__} lacks (it has {', '.join(sorted(known)) or 'none'})"
                )
    return FlowKey(source)


def _format_fields(where: str, what: str, source: str) -> list[str]:
    """The payload fields a format string reads (the name before any ``.`` or ``[``)."""
    fields = []
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise JobDefinitionError(
            f"{where}: {what} {source!r} is not a format string: {exc}"
        ) from None
    for _, field, _, _ in parsed:
        if field is None:
            continue
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not head.isidentifier():
            raise JobDefinitionError(
                f"{where}: {what} {source!r} must name payload fields, as in '{{calendar_id}}'"
            )
        fields.append(head)
    if not fields:
        raise JobDefinitionError(f"{where}: {what} {source!r} names no payload field")
    return fields
