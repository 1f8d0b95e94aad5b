"""The SQLite event store's single-statement reads run on each thread's own read-only
connection: they see every committed write at once, never a transaction in flight."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eventsourcing.persistence import ConnectionPoolClosedError, OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from qorch.adapters import log_follower
from qorch.adapters.store import DurableSQLiteConnectionPool, SQLiteEventStore
from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.domain.requests import RunRequest
from qorch.settings import Settings
from tests.conftest import BELL_QASM3


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    app = open_application(Settings(data_dir=tmp_path))
    try:
        yield app
    finally:
        app.close()


def _event(originator_id: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id, version, "test:Event", b"{}")


def _recorder(app: Qorch) -> SQLiteEventStore:
    recorder = app.recorder
    assert isinstance(recorder, SQLiteEventStore)
    return recorder


def test_a_read_never_sees_a_transaction_in_flight(app: Qorch):
    recorder = _recorder(app)
    app.register_user("ada")
    before = recorder.max_notification_id()
    originator = uuid.uuid4()
    with recorder.datastore.transaction(commit=True) as cursor:
        recorder._insert_events(cursor, [_event(originator, 1), _event(originator, 2)])
        # the writer's connection holds both rows; this thread's reader, and another's, none
        assert recorder.max_notification_id() == before
        assert recorder.select_events(originator) == []
        with ThreadPoolExecutor(1) as other:
            assert other.submit(recorder.select_events, originator).result() == []
            assert other.submit(recorder.select_notifications, before + 1, 10).result() == []
    assert recorder.max_notification_id() == before + 2
    assert [e.originator_version for e in recorder.select_events(originator)] == [1, 2]
    with ThreadPoolExecutor(1) as other:
        assert len(other.submit(recorder.select_notifications, before + 1, 10).result()) == 2


def test_a_thread_reads_every_later_commit_of_other_threads(app: Qorch):
    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "reads")
    run = RunRequest(experiment_id=str(experiment.id), circuits_qasm=[BELL_QASM3])
    submitted = threading.Event()
    seen: list[int] = []

    def read_until_submitted() -> None:
        while True:
            done = submitted.is_set()  # read after the flag: the last pass sees every submit
            seen.append(app.recorder.max_notification_id() or 0)
            if done:
                return

    with ThreadPoolExecutor(3) as pool:
        readers = [pool.submit(read_until_submitted) for _ in range(2)]
        jobs = [app.submit_job(user_id, run) for _ in range(20)]
        submitted.set()
        for reader in readers:
            reader.result()
        read: list[uuid.UUID] = list(
            pool.map(lambda job_id: app.repository.get(job_id).id, [j.id for j in jobs])
        )
        assert read == [job.id for job in jobs]
    assert max(seen) == jobs[-1].position


def test_readers_are_each_threads_own_read_only_connections(app: Qorch):
    pool = app.factory.datastore.pool  # type: ignore[attr-defined]
    assert isinstance(pool, DurableSQLiteConnectionPool)
    mine = pool.reader()
    assert pool.reader() is mine
    with ThreadPoolExecutor(1) as other:
        assert other.submit(pool.reader).result() is not mine
    lent = pool.get_connection(is_writer=True)
    try:
        assert lent is not mine
    finally:
        pool.put_connection(lent)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        mine._sqlite_conn.execute("DELETE FROM stored_events")


def test_reads_fail_as_the_librarys_do(app: Qorch):
    recorder = _recorder(app)
    missing = SQLiteEventStore(recorder.datastore, events_table_name="no_such_table")
    with pytest.raises(OperationalError, match="no such table"):
        missing.select_events(uuid.uuid4())
    pool = recorder.datastore.pool
    assert isinstance(pool, DurableSQLiteConnectionPool)
    reader = pool.reader()
    app.close()
    assert reader.closed
    with pytest.raises(ConnectionPoolClosedError):
        recorder.max_notification_id()


def test_pages_of_the_log_are_read_with_a_plain_cursor_as_the_library_reads_them(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    """A replay reads the whole log a page at a time: the page is the rows as they are, not the
    library's notifications built a field at a time (a third of reading the log)."""
    events = [_event(uuid.uuid4(), 1) for _ in range(7)]
    app.recorder.insert_events(events)
    library = app.recorder.select_notifications(2, 4, inclusive_of_start=False)

    def not_called(*args: object, **kwargs: object) -> None:
        raise AssertionError("the library's page read was used")

    monkeypatch.setattr(SQLiteApplicationRecorder, "select_notifications", not_called)
    page = log_follower.notifications_after(app, 2, 4)
    assert [n.__dict__ for n in page] == [n.__dict__ for n in library]
    assert [n.id for n in page] == [3, 4, 5, 6]
    open_pages = log_follower.pages_for_a_fork(app)
    assert open_pages is not None
    assert [n.__dict__ for n in open_pages()(2, 4)] == [n.__dict__ for n in library]
