"""The built-in jobs talk to fake API hosts; respx answers for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_apis import fake_apis
from jobrelay.job_engine import discover_jobs


@pytest.fixture(autouse=True)
def api_urls() -> Iterator[None]:
    with fake_apis():
        yield


@pytest.fixture(scope="session", autouse=True)
def builtin_jobs() -> None:
    discover_jobs()
