"""Every commit of the SQLite event store is fsynced (synchronous=FULL), lease events included:
the README's Design section says why a cheaper level for Claimed and LeaseRenewed is not used."""

from __future__ import annotations

import time
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.sqlite import SQLiteConnection

from qorch.domain.application import Qorch
from qorch.domain.requests import RunRequest
from tests.conftest import BELL_QASM2

FULL = 2


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(synchronous level, log head) at each commit of the store, in order."""
    seen: list[tuple[int, int]] = []
    commit = SQLiteConnection.commit

    def spy(connection: SQLiteConnection) -> None:
        raw = connection._sqlite_conn
        level = raw.execute("PRAGMA synchronous").fetchone()[0]
        head = raw.execute("SELECT max(rowid) FROM stored_events").fetchone()[0] or 0
        seen.append((level, head))
        commit(connection)

    monkeypatch.setattr(SQLiteConnection, "commit", spy)
    return seen


def events_by_commit(app: Qorch, commits: list[tuple[int, int]]) -> list[tuple[int, list[str]]]:
    """(level, event names) of each commit that recorded events."""
    names = {
        n.id: n.topic.rsplit(".", 1)[-1]
        for n in app.recorder.select_notifications(start=1, limit=10_000)
    }
    answer, previous = [], 0
    for level, head in commits:
        if head > previous:
            answer.append((level, [names[p] for p in range(previous + 1, head + 1)]))
            previous = head
    return answer


FAILURE = {"code": "provider_failed", "message": "the device went away", "retryable": False}


def submitted(app: Qorch, count: int) -> list[UUID]:
    user_id, _ = app.register_user("ada")
    experiment = str(app.create_experiment(user_id, "durability").id)
    request = RunRequest(experiment_id=experiment, circuits_qasm=[BELL_QASM2], shots=10)
    return [app.submit_job(user_id, request).id for _ in range(count)]


def test_lease_events_are_committed_as_durably_as_every_other_event(
    app: Qorch, commits: list[tuple[int, int]]
) -> None:
    jobs = submitted(app, 3)
    now = time.time()
    assert app.claim_job(jobs[0], "w1", now, False, 30) is not None
    assert app.renew_lease(jobs[0], "w1", now + 1, 30)
    assert app.record_failure(jobs[0], "w1", FAILURE)
    claims: list[Any] = app.together(
        [partial(app.claim_job, job, "w1", now, False, 30) for job in jobs[1:]]
    )
    assert all(claim is not None for claim in claims)
    assert app.release_job(jobs[1], "w1")

    recorded = events_by_commit(app, commits)
    assert [names for _, names in recorded][-5:] == [
        ["Claimed"],
        ["LeaseRenewed"],
        ["Failed"],
        ["Claimed", "Claimed"],
        ["Released"],
    ]
    assert {level for level, _ in recorded} == {FULL}
