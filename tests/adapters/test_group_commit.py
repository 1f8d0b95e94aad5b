"""Concurrent saves share one transaction, and so do commands run together; each still sees
exactly its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from qorch.adapters.group_commit import GroupCommit
from qorch.domain.application import Qorch
from qorch.domain.requests import RunRequest
from tests.conftest import BELL_QASM2


class CountingGate:
    """Counts the transactions; once armed, holds the next one until released."""

    def __init__(self, insert: Any) -> None:
        self.insert = insert
        self.transactions: list[int] = []
        self.armed = False
        self.first_started = threading.Event()
        self.release = threading.Event()

    def arm(self) -> None:
        self.transactions.clear()
        self.armed = True

    def __call__(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        self.transactions.append(len(stored_events))
        if self.armed:
            self.armed = False
            self.first_started.set()
            self.release.wait(10)
        return self.insert(stored_events, **kwargs)


@pytest.fixture
def gate(app: Qorch, monkeypatch: pytest.MonkeyPatch) -> CountingGate:
    grouped = app.events.recorder
    assert isinstance(grouped, GroupCommit)
    gate = CountingGate(grouped.recorder.insert_events)
    monkeypatch.setattr(grouped.recorder, "insert_events", gate)
    return gate


def register_while_first_commits(app: Qorch, gate: CountingGate, names: list[str]) -> list[Any]:
    """The first registration commits alone and is held; the rest queue behind it."""
    gate.arm()
    with ThreadPoolExecutor(len(names)) as pool:
        first = pool.submit(app.register_user, names[0])
        assert gate.first_started.wait(10)
        rest = [pool.submit(app.register_user, name) for name in names[1:]]
        while len(app.events.recorder._queue) < len(rest):  # type: ignore[attr-defined]
            threading.Event().wait(0.01)
        gate.release.set()
        return [first.result(), *(future.result() for future in rest)]


def test_saves_made_while_a_commit_is_in_flight_share_the_next_transaction(
    app: Qorch, gate: CountingGate
) -> None:
    names = [f"user-{i}" for i in range(9)]
    registered = register_while_first_commits(app, gate, names)

    assert len(gate.transactions) == 2  # the held one, then the eight that queued behind it
    for (user_id, key), name in zip(registered, names, strict=True):
        user = app.authenticate(key)
        assert user is not None and user.id == user_id and user.name == name
    positions = [n.id for n in app.recorder.select_notifications(start=1, limit=100)]
    assert positions == sorted(set(positions)) and len(positions) >= 9


def test_a_save_that_loses_a_race_fails_alone_and_the_others_of_its_round_are_kept(
    app: Qorch, gate: CountingGate
) -> None:
    user_id, _ = app.register_user("ada")
    ids = [app.create_experiment(user_id, f"experiment {i}").id for i in range(4)]
    aggregates: list[Any] = [app.repository.get(i) for i in ids]
    held, *others = aggregates
    stale: Any = app.repository.get(ids[0])
    limits = app.limits.text
    held.update("first", "", [], limits)  # type: ignore[attr-defined]
    stale.update("second", "", [], limits)  # type: ignore[attr-defined]
    for index, other in enumerate(others):
        other.update(f"renamed {index}", "", [], limits)  # type: ignore[attr-defined]
    gate.arm()

    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(app.save, held)
        assert gate.first_started.wait(10)
        losing = pool.submit(app.save, stale)
        kept = [pool.submit(app.save, other) for other in others]
        while len(app.events.recorder._queue) < 4:  # type: ignore[attr-defined]
            threading.Event().wait(0.01)
        gate.release.set()
        first.result()
        with pytest.raises(IntegrityError):
            losing.result()
        for future in kept:
            future.result()

    # one held commit, the combined round that failed, then its four saves one by one
    assert gate.transactions == [1, 4, 1, 1, 1, 1]
    assert app.repository.get(ids[0]).name == "first"  # type: ignore[attr-defined]
    for index, experiment_id in enumerate(ids[1:]):
        assert app.repository.get(experiment_id).name == f"renamed {index}"  # type: ignore[attr-defined]


def test_commands_run_together_write_one_transaction_and_a_race_sends_each_back_alone(
    app: Qorch, gate: CountingGate
) -> None:
    user_id, _ = app.register_user("ada")
    experiment = str(app.create_experiment(user_id, "batch").id)
    request = RunRequest(experiment_id=experiment, circuits_qasm=[BELL_QASM2], shots=10)
    jobs = [app.submit_job(user_id, request).id for _ in range(4)]
    now = time.time()
    gate.transactions.clear()

    claims = app.together([partial(app.claim_job, job, "w1", now, False, 30) for job in jobs])

    assert gate.transactions == [4]  # four claims, one write
    assert [claim.job_id for claim in claims] == jobs  # type: ignore[union-attr]
    assert all(app.find_job(job).worker_id == "w1" for job in jobs)  # type: ignore[union-attr]

    gate.transactions.clear()
    again = [partial(app.renew_lease, jobs[0], "w1", now + 1, 30) for _ in range(2)]
    answers = app.together([*again, partial(app.renew_lease, jobs[1], "w2", now + 1, 30)])

    # one job twice in one write loses the race: each command then runs alone, as it would
    assert gate.transactions == [2, 1, 1]
    assert answers == [True, True, False]  # w2 never held jobs[1]
