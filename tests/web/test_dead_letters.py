"""Dead letters over HTTP with a real Dramatiq worker: list, retry one or all, purge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
import redis
from jobrelay.devservers import RedisServer


async def _gated(client: httpx.AsyncClient, keys: list[str]) -> list[str]:
    """Dispatch a ``web.gated`` job per key (each fails, with no retry left, until its gate
    opens); their job ids."""
    ids = []
    for key in keys:
        receipt = await client.post("/jobs", json={"name": "web.gated", "payload": {"key": key}})
        ids.append(receipt.json()["job_id"])
    return ids


async def _dead(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        letters: list[dict[str, Any]] = (await client.get("/dead-letters?queue=default")).json()
        if len(letters) >= count:
            return letters
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} dead letters after 30 s")


async def _state(client: httpx.AsyncClient, job_id: str, want: str) -> None:
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        state = (await client.get(f"/jobs/{job_id}")).json()["state"]
        if state == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id} is {state}, not {want}")


async def test_dead_letters_are_listed_retried_and_purged(
    gated_job: ModuleType,
    web_client: httpx.AsyncClient,
    live_worker: Callable[[str], None],
    dramatiq_worker: None,
    redis_server: RedisServer,
    prefix: str,
) -> None:
    live_worker("default")
    keys = [f"{prefix}g{i}" for i in range(3)]
    ids = await _gated(web_client, keys)
    letters = await _dead(web_client, 3)
    assert sorted(letter["job_id"] for letter in letters) == sorted(ids)
    assert {letter["job_name"] for letter in letters} == {"web.gated"}
    assert all("not allowed yet" in letter["reason"] for letter in letters)

    with redis.Redis.from_url(redis_server.url) as client:
        for key in keys:
            client.set(f"{key}:ok", "1")
    first = next(letter for letter in letters if letter["job_id"] == ids[0])
    one = await web_client.post(f"/dead-letters/default/{first['redis_id']}/retry")
    assert one.status_code == 202 and one.json()["job_id"] == ids[0]
    await _state(web_client, ids[0], "succeeded")

    rest = await web_client.post("/dead-letters/default/retry")
    assert sorted(r["job_id"] for r in rest.json()["retried"]) == sorted(ids[1:])
    assert rest.json()["left"] == []
    for job_id in ids[1:]:
        await _state(web_client, job_id, "succeeded")
    assert (await web_client.get("/dead-letters?queue=default")).json() == []

    gone = await web_client.delete(f"/dead-letters/default/{first['redis_id']}")
    assert gone.status_code == 404
    assert (await web_client.get("/dead-letters?queue=nope")).status_code == 422


async def test_a_job_retried_from_its_page_or_in_bulk_leaves_no_dead_letter(
    gated_job: ModuleType,
    web_client: httpx.AsyncClient,
    live_worker: Callable[[str], None],
    dramatiq_worker: None,
    redis_server: RedisServer,
    prefix: str,
) -> None:
    live_worker("default")
    keys = [f"{prefix}r{i}" for i in range(3)]
    ids = await _gated(web_client, keys)
    await _dead(web_client, 3)
    with redis.Redis.from_url(redis_server.url) as client:
        for key in keys:
            client.set(f"{key}:ok", "1")

    one = await web_client.post(f"/jobs/{ids[0]}/retry")
    assert one.status_code == 202
    letters = (await web_client.get("/dead-letters?queue=default")).json()
    assert sorted(letter["job_id"] for letter in letters) == sorted(ids[1:])
    await _state(web_client, ids[0], "succeeded")

    bulk = (await web_client.post("/jobs/retry", params={"name": "web.gated"})).json()
    assert (bulk["matched"], bulk["acted"]) == (2, 2)
    assert (await web_client.get("/dead-letters?queue=default")).json() == []
    for job_id in ids[1:]:
        await _state(web_client, job_id, "succeeded")
