"""A fresh process's first dispatch to Temporal against a bare connect + start.

Starts its own Redis and Temporal dev server, then, in rounds that
alternate, compares these fresh Python processes:

- **jobrelay**: ``import jobrelay.dispatcher``, then one
  ``dispatch_job_sync`` with ``USE_DRAMATIQ=false`` (the default dispatcher
  is built from the environment, connects Redis and Temporal, writes the
  record, claims, starts the workflow and confirms);
- **bare**: ``import temporalio.client``, then ``Client.connect`` and one
  ``start_workflow`` of the same workflow type with the same id policies
  (the two timed phases of the "bare started" child below, added up);

and, the way a web app runs (``jobrelay.web`` connects both engines in its
lifespan):

- **jobrelay started**: ``build_dispatcher()`` and ``Dispatcher.connect()``
  at start-up, then one ``await dispatcher.dispatch``;
- **bare started**: ``Client.connect`` at start-up, then one
  ``start_workflow``.

Each child times its own first call from after its imports (and after its
start-up, for the started pair), and reports those times too. A first
round of each warms the bytecode cache (the target is stated for compiled
bytecode) and is not counted.
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
import json, os, sys, time, uuid
t0 = time.perf_counter()
from jobrelay.dispatcher import dispatch_job_sync
t1 = time.perf_counter()
receipt = dispatch_job_sync("demo.countdown", {"start": 1}, job_id=uuid.uuid4().hex)
t2 = time.perf_counter()
assert receipt.engine == "temporal", receipt
print(json.dumps({"import_s": t1 - t0, "first_s": t2 - t1}), flush=True)
os._exit(0)  # temporalio/sdk-python#300: a client process can abort at interpreter exit
"""

JOBRELAY_STARTED = """
import asyncio, json, os, time, uuid
t0 = time.perf_counter()
from jobrelay.dispatcher import build_dispatcher
t1 = time.perf_counter()

async def main() -> dict[str, float]:
    dispatcher = build_dispatcher()
    assert await dispatcher.connect()
    t2 = time.perf_counter()
    receipt = await dispatcher.dispatch("demo.countdown", {"start": 1}, job_id=uuid.uuid4().hex)
    t3 = time.perf_counter()
    assert receipt.engine == "temporal", receipt
    return {"import_s": t1 - t0, "startup_s": t2 - t1, "first_s": t3 - t2}

print(json.dumps(asyncio.run(main())), flush=True)
os._exit(0)  # temporalio/sdk-python#300: a client process can abort at interpreter exit
"""

BARE_STARTED = """
import asyncio, json, os, time, uuid
t0 = time.perf_counter()
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
t1 = time.perf_counter()

async def main() -> dict[str, float]:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    t2 = time.perf_counter()
    await client.start_workflow(
        "jobrelay.job",
        {"job_id": "x"},
        id=uuid.uuid4().hex,
        task_queue="first-dispatch-bench",
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "startup_s": t2 - t1, "first_s": t3 - t2}

print(json.dumps(asyncio.run(main())), flush=True)
os._exit(0)  # temporalio/sdk-python#300: a client process can abort at interpreter exit
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
        children = {
            "jobrelay": JOBRELAY,
            "jobrelay started": JOBRELAY_STARTED,
            "bare started": BARE_STARTED,
        }
        # Warm-up: compiles and caches every module any child imports.
        for code in children.values():
            _child(code, env)
        runs: dict[str, list[dict[str, float]]] = {who: [] for who in children}
        for _ in range(opts.rounds):
            for who, code in children.items():
                runs[who].append(_child(code, env))
    # The bare cold call is the started child's connect and start together.
    runs = {
        "jobrelay": runs["jobrelay"],
        "bare": [
            {"import_s": r["import_s"], "first_s": r["startup_s"] + r["first_s"]}
            for r in runs["bare started"]
        ],
        "jobrelay started": runs["jobrelay started"],
        "bare started": runs["bare started"],
    }
    med = {
        who: {k: statistics.median(r.get(k, 0.0) for r in rs) for k in _PHASES}
        for who, rs in runs.items()
    }
    for m in med.values():
        m["total"] = sum(m[k] for k in _PHASES)
    print(f"{opts.rounds} rounds, medians (bytecode compiled and cached)")
    print("| process | import | start-up | first dispatch | total |")
    print("|---|---:|---:|---:|---:|")
    for who, m in med.items():
        cells = " | ".join(f"{m[k] * 1000:.0f} ms" for k in (*_PHASES, "total"))
        print(f"| {who} | {cells} |")
    for pair in ("", " started"):
        ours, bare = med[f"jobrelay{pair}"], med[f"bare{pair}"]
        print(f"first dispatch{pair}, jobrelay / bare: {ours['first_s'] / bare['first_s']:.2f}x "
              f"(target <= 3x); all phases: {ours['total'] / bare['total']:.2f}x")  # fmt: skip
    return 0


_PHASES = ("import_s", "startup_s", "first_s")


if __name__ == "__main__":
    raise SystemExit(main())
