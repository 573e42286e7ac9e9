"""Every Redis key and naming rule jobrelay uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "jobrelay:"

ENGINE_DRAMATIQ = "dramatiq"
ENGINE_TEMPORAL = "temporal"

QUEUE_DEFAULT = "default"
QUEUE_DATA_SYNC = "data_sync"
QUEUE_SCHEDULED = "scheduled"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix; tests give each case its own prefix."""

    prefix: str = DEFAULT_PREFIX

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def owner(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}:owner"

    def steps(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}:steps"

    def job_keys(self, job_id: str) -> list[str]:
        # Every key a job leaves once it finished (step leases expire on their own).
        return [
            self.job(job_id),
            self.owner(job_id),
            self.steps(job_id),
            self.attempts(job_id),
            self.step_info(job_id),
        ]

    def step_lease(self, job_id: str, step_id: str) -> str:
        return f"{self.prefix}job:{job_id}:lease:{step_id}"

    def attempts(self, job_id: str) -> str:
        # The job's attempt log: a capped list of JSON entries (queue/history.py).
        return f"{self.prefix}job:{job_id}:attempts"

    def step_info(self, job_id: str) -> str:
        # Step id -> JSON of its state, attempts and times (queue/history.py).
        return f"{self.prefix}job:{job_id}:stepinfo"

    @property
    def index(self) -> str:
        # The job index (see job_index.py): this key is the set of every job;
        # the per-queue-and-state and per-name sets hang under it, built in Lua.
        return f"{self.prefix}idx"

    def index_queue_state(self, queue: str, state: str) -> str:
        return f"{self.index}:qs:{queue}:{state}"

    def index_name(self, name: str) -> str:
        return f"{self.index}:name:{name}"

    def finished_in_minute(self, queue: str, minute: int) -> str:
        # Jobs of ``queue`` that finished in minute ``minute`` (epoch // 60); expire in 2 h.
        return f"{self.index}:done:{queue}:{minute}"

    def depth_in_minute(self, queue: str, minute: int) -> str:
        # Jobs of ``queue`` waiting when it was last read in minute ``minute``; expires in 2 h.
        return f"{self.index}:depth:{queue}:{minute}"

    def reasons_in_minute(self, minute: int) -> str:
        # Dispatch reason -> jobs recorded in minute ``minute``; expires in 2 h.
        return f"{self.index}:reasons:{minute}"

    @property
    def outcomes(self) -> str:
        # "queue|engine|state" -> jobs that finished so, ever (counters for /metrics).
        return f"{self.index}:outcomes"

    @property
    def schedules(self) -> str:
        # Schedules made at run time (the API): id -> Schedule JSON.
        return f"{self.prefix}schedules"

    @property
    def paused_schedules(self) -> str:
        # Schedule id -> "1" paused by an operator, "0" resumed (over its declared ``paused``).
        return f"{self.prefix}schedules:paused"

    def schedule_state(self, schedule_id: str) -> str:
        # The scheduler's memory of one schedule: last tick handled, last firing, buffered tick.
        return f"{self.prefix}schedule:{schedule_id}"

    # Flow control (flow.py): concurrency slots, the rate limiter, uniqueness windows.

    def flow_slots(self, name: str, key: str) -> str:
        # "{job_id}|{engine}" -> when its lease ends (Redis time, ms).
        return f"{self.prefix}flow:slots:{name}:{key}"

    def flow_waiting(self, name: str) -> str:
        # Jobs of ``name`` told to wait for a slot -> when that answer goes stale (ms).
        return f"{self.prefix}flow:waiting:{name}"

    def flow_rate(self, name: str, key: str) -> str:
        # The rate limiter of one key: tat (next conforming start), next (next turn promised).
        return f"{self.prefix}flow:rate:{name}:{key}"

    def flow_throttled(self, name: str) -> str:
        # Jobs of ``name`` told to wait for their turn -> when that answer goes stale (ms).
        return f"{self.prefix}flow:throttled:{name}"

    def flow_unique(self, name: str, key: str) -> str:
        # The first job id dispatched with ``key`` in the uniqueness window (PX the window).
        return f"{self.prefix}flow:unique:{name}:{key}"

    @property
    def pending(self) -> str:
        return f"{self.prefix}pending"

    @property
    def wakeups(self) -> str:
        return f"{self.prefix}wakeups"

    @property
    def buried_wakeups(self) -> str:
        # Wake-ups that could not be handed on (undecodable): member -> reason.
        return f"{self.prefix}wakeups:buried"

    @property
    def paused_queues(self) -> str:
        # Queue name -> when an operator paused it (epoch seconds).
        return f"{self.prefix}queues:paused"

    @property
    def resumed_queues(self) -> str:
        # Queue name -> when it was last resumed: the pickup grace after a pause.
        return f"{self.prefix}queues:resumed"

    def workers(self, queue: str, engine: str = ENGINE_DRAMATIQ) -> str:
        # Dramatiq's set keeps its original name: the dispatcher's live-worker
        # check reads it, and only Dramatiq workers can take an enqueued job.
        if engine == ENGINE_DRAMATIQ:
            return f"{self.prefix}workers:{queue}"
        return f"{self.prefix}workers:{engine}:{queue}"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    @property
    def dramatiq_namespace(self) -> str:
        return f"{self.prefix}dq"

    def task_queue(self, queue: str) -> str:
        # "jobrelay:" -> "jobrelay.default": the name docs/architecture.md (Redis
        # keys) gives under the default prefix, and a distinct task queue per
        # prefix so tests never share one.
        return f"{self.prefix.rstrip(':')}.{queue}"
