"""How bench/chaos.py judges a job's ledger events: fast, no servers.

The 2-minute run (``test_chaos.py``) trusts these verdicts; here each rule
is checked on hand-written events, including the ones that must fail a run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


@pytest.fixture(scope="module")
def chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_under_test", CHAOS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _hook(pid: int, at: float) -> str:
    return f"H|hook|{pid}|{at:.6f}"


def test_one_hook_run_is_one_finish(chaos: ModuleType) -> None:
    assert chaos.classify_hooks([_hook(1, 1.0)], "1|1.000000") == (0, 0)


def test_a_hook_rerun_after_a_cut_run_is_counted_apart(chaos: ModuleType) -> None:
    # The saved result is the second run's: the first had none when the second began.
    events = [_hook(1, 1.0), _hook(2, 12.0)]
    assert chaos.classify_hooks(events, "2|12.000000") == (0, 1)


def test_a_hook_rerun_after_a_saved_run_is_a_finish_twice(chaos: ModuleType) -> None:
    events = [_hook(1, 1.0), _hook(2, 12.0)]
    assert chaos.classify_hooks(events, "1|1.000000") == (1, 0)


def test_hook_reruns_without_a_saved_result_are_finishes_twice(chaos: ModuleType) -> None:
    events = [_hook(1, 1.0), _hook(2, 12.0), _hook(3, 20.0)]
    assert chaos.classify_hooks(events, None) == (2, 0)


def test_steps_rerun_after_a_later_step_began_are_finished_steps_rerun(chaos: ModuleType) -> None:
    events = ["B|s1|1|1", "E|s1|1|2", "B|s2|1|3", "B|s1|2|4"]
    verdict = chaos.classify(events)
    assert (verdict.finished_reruns, verdict.interrupted_reruns) == (1, 0)


def test_a_step_rerun_before_anything_later_is_interrupted(chaos: ModuleType) -> None:
    events = ["B|s1|1|1", "E|s1|1|2", "B|s1|2|4", "E|s1|2|5", "B|s2|2|6"]
    verdict = chaos.classify(events)
    assert (verdict.finished_reruns, verdict.interrupted_reruns) == (0, 1)


def test_a_step_begun_again_after_its_planned_failure_is_the_retry(chaos: ModuleType) -> None:
    events = ["B|s2|1|1", "F|s2|1|2", "B|s2|1|3"]
    verdict = chaos.classify(events)
    assert (verdict.planned_retries, verdict.interrupted_reruns) == (1, 0)


@pytest.mark.parametrize(
    ("broken", "verdict"),
    [
        ({}, "OK"),
        ({"stuck_outage_backlog": 3}, "promises kept; outage drain target MISSED"),
        ({"stuck": 1}, "FAILED"),
        ({"lost": 1, "stuck_outage_backlog": 3}, "FAILED"),
        ({"finished_twice": 1}, "FAILED"),
        ({"finished_steps_rerun": 1}, "FAILED"),
    ],
)
def test_a_slow_outage_drain_is_not_a_broken_promise(
    chaos: ModuleType, broken: dict[str, int], verdict: str
) -> None:
    figures = chaos.Figures(seed=1, minutes=2, rate=25, faults_enabled=[], outage_s=15, **broken)
    assert figures.verdict == verdict
    assert figures.ok == (verdict == "OK")
    assert figures.promises_kept == (verdict != "FAILED")
