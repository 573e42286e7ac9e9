"""The job list over a large index: ``GET /jobs?state=failed`` with 100,000 jobs recorded.

Starts its own Redis, records ``--jobs`` jobs the way the dispatcher does
(``ADMIT_MANY``, so the index is built by the same scripts), finishes most
of them (``FINISH``: 10% failed, 70% succeeded, the rest left queued), then
measures through the web app (in process, over ASGI):

- **page**: the first page (50 jobs) of ``GET /jobs?state=failed``, and of a
  few other filters;
- **floor**: a pipelined ``HGETALL`` of the same 50 records straight from
  redis-py, the least any page of 50 jobs costs; and ``GET /job-types``, the
  app's HTTP cost with no Redis call at all;

and reports p50 and p99 of each with the page's p50 as a ratio of the
floors, and the index's Redis memory per job (``MEMORY USAGE`` of every
index key) next to a record's. Not a test.

    uv run python bench/job_index_bench.py [--jobs 100000] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from typing import Any

import httpx
import redis
from jobrelay.devservers import RedisServer, free_port
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.dispatcher.ledger import AdmitEntry, Ledger
from jobrelay.queue import (
    JobState,
    JobStore,
    QueueSettings,
    new_record_fields,
    redis_client,
)
from jobrelay.web import WebSettings, create_app

NAMES = ["demo.countdown", "booking.send_confirmation", "calendar.sync", "booking.send_reminder"]
QUEUES = ["default", "default", "data_sync", "scheduled"]


def fill(client: redis.Redis, settings: QueueSettings, jobs: int) -> dict[str, int]:
    """Record ``jobs`` jobs through the dispatcher's scripts; counts by final state."""
    ledger = Ledger(settings.keys)
    store = JobStore.from_settings(client, settings)
    ids: list[str] = []
    batch: list[AdmitEntry] = []
    for n in range(jobs):
        job_id = uuid.uuid4().hex
        ids.append(job_id)
        kind = n % len(NAMES)
        fields = new_record_fields(
            job_id, NAMES[kind], QUEUES[kind], engine="dramatiq", reason="ok"
        )
        fields["dispatch_token"] = uuid.uuid4().hex
        batch.append(AdmitEntry(job_id, fields, f'{{"n": {n}}}', None))
        if len(batch) == 1000:
            ledger.admit_many(batch).run(client)
            batch = []
    if batch:
        ledger.admit_many(batch).run(client)
    counts = {"failed": 0, "succeeded": 0, "queued": 0}
    for n, job_id in enumerate(ids):
        slot = n % 10
        if slot == 0:
            store.finish(job_id, JobState.FAILED, error=f"boom {n}")
            counts["failed"] += 1
        elif slot <= 7:
            store.finish(job_id, JobState.SUCCEEDED, result={"n": n})
            counts["succeeded"] += 1
        else:
            counts["queued"] += 1
    return counts


def memory_per_job(client: redis.Redis, settings: QueueSettings, jobs: int) -> tuple[float, float]:
    """Bytes of index per job, and of a record (its hash) per job from a sample."""
    index_bytes = 0
    for key in client.scan_iter(match=f"{settings.keys.index}*", count=1000):
        index_bytes += int(client.memory_usage(key) or 0)
    sample = client.zrandmember(settings.keys.index, 500) or []
    records = [int(client.memory_usage(settings.keys.job(str(m, "utf-8"))) or 0) for m in sample]  # type: ignore[arg-type]
    return index_bytes / jobs, statistics.mean(records) if records else 0.0


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def measure(redis_url: str, jobs: int, requests: int) -> dict[str, Any]:
    settings = QueueSettings(redis_url=redis_url, prefix=f"ix{uuid.uuid4().hex[:6]}:")
    client = redis_client(settings)
    started = time.perf_counter()
    counts = fill(client, settings, jobs)
    fill_s = time.perf_counter() - started

    def dispatcher() -> Dispatcher:
        # Temporal is not needed to list jobs: an address nobody answers.
        built = build_dispatcher(
            DispatcherSettings(
                temporal_address=f"127.0.0.1:{free_port()}",
                use_dispatch_proxy=False,
                dispatch_proxy_url=None,
            ),
            settings,
        )
        assert isinstance(built, Dispatcher)
        return built

    app = create_app(
        dispatcher=dispatcher, settings=WebSettings(run_reconciler=False, stats_interval_s=0)
    )
    out: dict[str, Any] = {"jobs": jobs, "states": counts, "fill_s": round(fill_s, 1)}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            first = (await http.get("/jobs", params={"state": "failed"})).json()
            page_ids = [item["job_id"] for item in first["items"]]
            assert len(page_ids) == 50, first

            async def timed(path: str, params: dict[str, str] | None = None) -> list[float]:
                samples = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    response = await http.get(path, params=params)
                    samples.append(time.perf_counter() - t0)
                    assert response.status_code == 200, response.text
                return samples

            def hgetall_floor() -> list[float]:
                samples = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    pipe = client.pipeline(transaction=False)
                    for job_id in page_ids:
                        pipe.hgetall(settings.keys.job(job_id))
                    pipe.execute()
                    samples.append(time.perf_counter() - t0)
                return samples

            cases = {
                "GET /jobs?state=failed": ("/jobs", {"state": "failed"}),
                "GET /jobs (no filter)": ("/jobs", {}),
                "GET /jobs?state=failed&queue=data_sync": (
                    "/jobs",
                    {"state": "failed", "queue": "data_sync"},
                ),
                "GET /jobs?name=calendar.sync&state=succeeded": (
                    "/jobs",
                    {"name": "calendar.sync", "state": "succeeded"},
                ),
                "GET /jobs?engine=temporal (no match: bounded scan)": (
                    "/jobs",
                    {"engine": "temporal"},
                ),
                "GET /job-types (HTTP floor)": ("/job-types", None),
            }
            results: dict[str, tuple[float, float]] = {}
            for label, (path, params) in cases.items():
                await timed(path, params)  # warm
                results[label] = percentiles(await timed(path, params))
            results["pipelined HGETALL of the 50 records (Redis floor)"] = percentiles(
                hgetall_floor()
            )
    index_per_job, record_per_job = memory_per_job(client, settings, jobs)
    page = results["GET /jobs?state=failed"][0]
    out["latency_ms"] = {
        k: (round(p50 * 1000, 2), round(p99 * 1000, 2)) for k, (p50, p99) in results.items()
    }
    out["page_vs_http_floor"] = round(page / results["GET /job-types (HTTP floor)"][0], 2)
    out["page_vs_redis_floor"] = round(
        page / results["pipelined HGETALL of the 50 records (Redis floor)"][0], 2
    )
    out["index_bytes_per_job"] = round(index_per_job, 1)
    out["record_bytes_per_job"] = round(record_per_job, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with RedisServer() as server:
        result = asyncio.run(measure(server.url, args.jobs, args.requests))
    print(json.dumps(result, indent=2))
    print("\n| request | p50 ms | p99 ms |\n|---|---|---|")
    for label, (p50, p99) in result["latency_ms"].items():
        print(f"| {label} | {p50} | {p99} |")


if __name__ == "__main__":
    main()
