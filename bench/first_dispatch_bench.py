"""A fresh process's first dispatch to Temporal against a bare connect + start.

Starts its own Redis and Temporal dev server, then, in rounds that
alternate, runs two kinds of fresh Python process:

- **jobrelay**: ``import jobrelay.dispatcher``, then one
  ``dispatch_job_sync`` with ``USE_DRAMATIQ=false`` (the default dispatcher
  is built from the environment, connects Redis and Temporal, writes the
  record, claims, starts the workflow and confirms);
- **bare**: ``import temporalio.client``, then ``Client.connect`` and one
  ``start_workflow`` of the same workflow type with the same id policies.

Each child times its own first call from after its imports, and reports
the time of those imports too. A first round of each warms the bytecode
cache (the target is stated for compiled bytecode) and is not counted.
Medians over the rounds; the target is jobrelay / bare <= 3x. Not a test.

    uv run python bench/first_dispatch_bench.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid

from jobrelay.devservers import RedisServer, TemporalDevServer

JOBRELAY = """
import json, sys, time, uuid
t0 = time.perf_counter()
from jobrelay.dispatcher import dispatch_job_sync
t1 = time.perf_counter()
receipt = dispatch_job_sync("demo.countdown", {"start": 1}, job_id=uuid.uuid4().hex)
t2 = time.perf_counter()
assert receipt.engine == "temporal", receipt
print(json.dumps({"import_s": t1 - t0, "first_s": t2 - t1}))
"""

BARE = """
import asyncio, json, os, time, uuid
t0 = time.perf_counter()
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
t1 = time.perf_counter()

async def main() -> None:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    await client.start_workflow(
        "jobrelay.job",
        {"job_id": "x"},
        id=uuid.uuid4().hex,
        task_queue="first-dispatch-bench",
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )

asyncio.run(main())
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_s": t2 - t1}))
"""


def _child(code: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds of each (default 7)")
    opts = parser.parse_args(argv)
    with RedisServer() as redis_server, TemporalDevServer() as temporal:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(
            REDIS_URL=redis_server.url,
            JOBRELAY_PREFIX=f"first-{uuid.uuid4().hex[:8]}:",
            TEMPORAL_ADDRESS=temporal.address,
            USE_DRAMATIQ="false",
        )
        # Warm-up: compiles and caches every module either child imports.
        _child(JOBRELAY, env)
        _child(BARE, env)
        runs: dict[str, list[dict[str, float]]] = {"jobrelay": [], "bare": []}
        for _ in range(opts.rounds):
            runs["jobrelay"].append(_child(JOBRELAY, env))
            runs["bare"].append(_child(BARE, env))
    med = {
        who: {k: statistics.median(r[k] for r in rs) for k in ("import_s", "first_s")}
        for who, rs in runs.items()
    }
    print(f"{opts.rounds} rounds, medians (bytecode compiled and cached)")
    print("| process | import | first dispatch | import + first |")
    print("|---|---:|---:|---:|")
    for who, m in med.items():
        total = m["import_s"] + m["first_s"]
        print(f"| {who} | {m['import_s'] * 1000:.0f} ms | {m['first_s'] * 1000:.0f} ms "
              f"| {total * 1000:.0f} ms |")  # fmt: skip
    ratio = med["jobrelay"]["first_s"] / med["bare"]["first_s"]
    whole = sum(med["jobrelay"].values()) / sum(med["bare"].values())
    print(f"first dispatch jobrelay / bare: {ratio:.2f}x (target <= 3x); "
          f"with the imports: {whole:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
