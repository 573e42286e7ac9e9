"""``jobrelay dev``: the whole system on this machine, with embedded servers."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from jobrelay.devservers import ManagedProcess, RedisServer, TemporalDevServer, free_port
from jobrelay.queue import ENGINE_DRAMATIQ, FINISHED_STATES

from . import dev_env


def _say(message: str) -> None:
    print(f"[jobrelay dev] {message}", flush=True)


def _wait_until(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout_s}s ({last_error})")


def _run_demo(base_url: str, name: str, payload: dict[str, Any], timeout_s: float) -> str:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.post("/jobs", json={"name": name, "payload": payload})
        response.raise_for_status()
        receipt = response.json()
        _say(f"dispatched {name}: {json.dumps(receipt)}")
        seen = None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = http.get(f"/jobs/{receipt['job_id']}").json()
            shown = (status["state"], status["progress"], status["message"])
            if shown != seen:
                seen = shown
                _say(f"  {status['state']:<9} {status['progress']:>3}%  {status['message']}")
            if status["state"] in FINISHED_STATES:
                _say(f"result: {json.dumps(status['result'])} (engine {status['engine']})")
                return str(status["state"])
            time.sleep(0.1)
    return "timeout"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _dramatiq_workers(base_url: str) -> list[dict[str, Any]]:
    # /workers lists the Temporal workers too; only Dramatiq's take enqueued jobs.
    listed: list[dict[str, Any]] = httpx.get(f"{base_url}/workers").json().get("default", [])
    return [w for w in listed if w.get("engine") == ENGINE_DRAMATIQ]


def run_dev(*, data_dir: Path, web_port: int | None, once: bool, demo: bool) -> int:
    """Start Redis, Temporal, both workers and the web app; run a demo job; wait."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # The default ports when free, so the CLI of another terminal needs no
    # settings; elsewhere otherwise, and the env file says where.
    ports = {
        name: port if dev_env.port_free(port) else free_port()
        for name, port in dev_env.DEFAULT_PORTS.items()
    }
    web_port = web_port or ports["web"]
    redis = RedisServer(port=ports["redis"], aof=True, data_dir=data_dir / "redis")
    (data_dir / "redis").mkdir(exist_ok=True)
    temporal = TemporalDevServer(port=ports["temporal"])
    children: list[ManagedProcess] = []
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        redis.start()
        _say(f"redis    {redis.url} (pid {redis.pid}, AOF in {redis.data_dir})")
        temporal.start()
        _say(f"temporal {temporal.address} (pid {temporal.pid})")
        env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "TEMPORAL_ADDRESS": temporal.address,
            "JOBRELAY_WEB_PORT": str(web_port),
        }
        scripts = Path(sys.executable).parent
        commands = {
            "worker": [str(scripts / "jobrelay-worker"), "run"],
            "temporal-worker": [str(scripts / "jobrelay-worker"), "temporal"],
            "web": [
                sys.executable, "-m", "uvicorn", "jobrelay.web.main:app",
                "--host", "127.0.0.1", "--port", str(web_port), "--log-level", "warning",
            ],
        }  # fmt: skip
        for name, argv in commands.items():
            proc = ManagedProcess(argv, data_dir / f"{name}.log", env=env)
            proc.start()
            children.append(proc)
            _say(f"{name:<8} pid {proc.pid}, log {data_dir / (name + '.log')}")
        base_url = f"http://127.0.0.1:{web_port}"
        _wait_until("web app", lambda: httpx.get(f"{base_url}/health").is_success, 30)
        _wait_until("a Dramatiq worker", lambda: _dramatiq_workers(base_url), 30)
        _say(f"web      {base_url}  (API docs at {base_url}/docs)")
        addresses = {
            "REDIS_URL": redis.url,
            "TEMPORAL_ADDRESS": temporal.address,
            "JOBRELAY_URL": base_url,
        }
        env_file = dev_env.write(data_dir, addresses)
        defaults = {"redis": redis.port, "temporal": temporal.port, "web": web_port}
        if defaults != dev_env.DEFAULT_PORTS:
            _say(f"not all on the default ports: the CLI reads {env_file} from this directory;")
            _say("elsewhere, export " + " ".join(f"{k}={v}" for k, v in addresses.items()))
        outcomes = ["succeeded"]
        if demo:
            payload = {"start": 3, "pause_s": 0.3}
            outcomes = [_run_demo(base_url, "demo.countdown", payload, 60)]
            # The point of jobrelay: with no Dramatiq worker the job still runs, on Temporal.
            _say("stopping the Dramatiq worker to show the fallback")
            worker = children[0]
            worker.stop()
            _wait_until("the worker to deregister", lambda: not _dramatiq_workers(base_url), 30)
            outcomes.append(_run_demo(base_url, "demo.countdown", payload, 60))
            worker.start()
            _say(f"worker   restarted, pid {worker.pid}")
        if once:
            return 0 if set(outcomes) == {"succeeded"} else 1
        _say("running; Ctrl-C stops everything")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM, at any point: everything started is stopped below.
        return 0
    finally:
        dev_env.remove(data_dir)
        for proc in reversed(children):
            proc.stop()
        temporal.stop()
        redis.stop()
        _say("stopped")
