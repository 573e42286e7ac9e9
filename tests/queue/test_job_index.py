from __future__ import annotations

import time

import pytest
import redis
from jobrelay.queue import (
    InvalidCursor,
    JobFilter,
    JobIndex,
    JobRecord,
    JobState,
    JobStore,
    QueueSettings,
)


def _create(
    store: JobStore, job_id: str, *, name: str = "demo.job", queue: str = "default"
) -> None:
    assert store.create(JobRecord(job_id=job_id, name=name, queue=queue))


def _ids(index: JobIndex, where: JobFilter, **kw: object) -> list[str]:
    return [r.job_id for r in index.page(where, **kw).records]  # type: ignore[arg-type]


@pytest.fixture
def index(redis_conn: redis.Redis, queue_settings: QueueSettings) -> JobIndex:
    return JobIndex(redis_conn, queue_settings.keys, batch=4, max_scan=1000)


def test_jobs_are_listed_newest_first_and_follow_their_state(
    store: JobStore, index: JobIndex
) -> None:
    for i in range(5):
        _create(store, f"j{i}")
    assert _ids(index, JobFilter()) == ["j4", "j3", "j2", "j1", "j0"]
    assert _ids(index, JobFilter(state=JobState.QUEUED)) == ["j4", "j3", "j2", "j1", "j0"]

    store.claim_and_start("j1", "dramatiq", attempt=1)
    store.finish("j3", JobState.FAILED, error="boom")
    store.mark_sleeping("j2", wake_at=time.time() + 60)

    assert _ids(index, JobFilter(state=JobState.QUEUED)) == ["j4", "j0"]
    assert _ids(index, JobFilter(state=JobState.RUNNING)) == ["j1"]
    assert _ids(index, JobFilter(state=JobState.SLEEPING)) == ["j2"]
    assert _ids(index, JobFilter(state=JobState.FAILED)) == ["j3"]
    assert index.count_by_state()["failed"] == 1
    assert index.count_by_state("default")["queued"] == 2
    # Progress writes leave the state, and the index, alone.
    store.set_progress("j1", 50)
    assert _ids(index, JobFilter(state=JobState.RUNNING)) == ["j1"]


def test_filters_combine_and_pages_follow_the_cursor(store: JobStore, index: JobIndex) -> None:
    for i in range(12):
        _create(store, f"a{i:02}", name="demo.a" if i % 2 else "demo.b", queue="default")
    _create(store, "other", name="demo.a", queue="data_sync")
    where = JobFilter(name="demo.a", queue="default")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = index.page(where, limit=2, cursor=cursor)
        seen += [r.job_id for r in page.records]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["a11", "a09", "a07", "a05", "a03", "a01"]
    assert pages == 3
    assert _ids(index, JobFilter(queue="data_sync")) == ["other"]
    # A state alone merges that state's set of every queue, newest first, page by page.
    merged: list[str] = []
    cursor = None
    while True:
        page = index.page(JobFilter(state=JobState.QUEUED), limit=5, cursor=cursor)
        merged += [r.job_id for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert merged == ["other", *(f"a{i:02}" for i in reversed(range(12)))]
    assert _ids(index, JobFilter(engine="temporal")) == []


def test_time_bounds_select_by_creation(store: JobStore, index: JobIndex) -> None:
    _create(store, "old")
    middle = time.time()
    time.sleep(0.01)
    _create(store, "new")
    assert _ids(index, JobFilter(since=middle)) == ["new"]
    assert _ids(index, JobFilter(until=middle)) == ["old"]


def test_a_sparse_filter_answers_a_short_page_and_a_cursor_to_go_on(
    store: JobStore, redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    index = JobIndex(redis_conn, queue_settings.keys, batch=4, max_scan=8)
    _create(store, "match", name="demo.rare")
    for i in range(12):
        _create(store, f"n{i:02}")
    first = index.page(JobFilter(name="demo.rare", state=JobState.QUEUED), limit=5)
    # The name set is the smaller one: the match is found without a long scan.
    assert [r.job_id for r in first.records] == ["match"]
    unfiltered_base = index.page(JobFilter(engine="nobody"), limit=5)
    assert unfiltered_base.records == []
    assert unfiltered_base.next_cursor is not None
    rest = index.page(JobFilter(engine="nobody"), limit=5, cursor=unfiltered_base.next_cursor)
    assert rest.records == [] and rest.next_cursor is None


def test_expired_records_drop_out_of_the_index(
    store: JobStore, index: JobIndex, redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    _create(store, "gone")
    _create(store, "kept")
    store.finish("gone", JobState.SUCCEEDED, result=1)
    redis_conn.delete(queue_settings.keys.job("gone"))
    assert _ids(index, JobFilter()) == ["kept"]
    assert redis_conn.zscore(queue_settings.keys.index, "gone") is None


def test_finishing_trims_entries_older_than_the_retention(
    redis_conn: redis.Redis, queue_settings: QueueSettings, index: JobIndex
) -> None:
    store = JobStore(redis_conn, queue_settings.keys, retention_s=60)
    _create(store, "ancient")
    # Created long before the retention period: its entry is trimmed at the next finish.
    redis_conn.hset(queue_settings.keys.job("ancient"), "created_at", repr(time.time() - 3600))
    redis_conn.zadd(queue_settings.keys.index, {"ancient": time.time() - 3600})
    _create(store, "recent")
    store.finish("recent", JobState.SUCCEEDED, result=1)
    assert redis_conn.zscore(queue_settings.keys.index, "ancient") is None
    assert _ids(index, JobFilter()) == ["recent"]


def test_outcomes_and_throughput_are_counted(store: JobStore, index: JobIndex) -> None:
    for i in range(3):
        _create(store, f"d{i}")
        store.claim_and_start(f"d{i}", "dramatiq", attempt=1)
    store.finish("d0", JobState.SUCCEEDED, result=1)
    store.finish("d1", JobState.FAILED, error="x")
    store.finish("d1", JobState.FAILED, error="again")  # already finished: not counted twice
    minute = int(time.time() // 60)
    per_minute = index.finished_per_minute("default", minute, minutes=2)
    assert sum(per_minute) == 2
    assert index.outcomes() == {
        ("default", "dramatiq", "succeeded"): 1,
        ("default", "dramatiq", "failed"): 1,
    }


def test_a_bad_cursor_is_a_typed_error(index: JobIndex) -> None:
    with pytest.raises(InvalidCursor):
        index.page(JobFilter(), cursor="!!not-a-cursor!!")
    with pytest.raises(InvalidCursor):
        index.page(JobFilter(), cursor="bm9waXBl")  # valid base64, no separator
