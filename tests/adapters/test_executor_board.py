"""A job submitted just now is known to the executor's board as it is tracked: its owner is read
from the Submitted notification itself, not again from the store in a worker thread, once what
else it needs (its circuit's size) is known; a backlog and large submits are read there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import anyio
import pytest

from qorch.adapters.executor.board import INLINE_PER_PAGE, JobBoard
from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.domain.requests import RunRequest
from qorch.settings import Settings
from tests.conftest import BELL_QASM2, RY_MEASURED


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    app = open_application(Settings(data_dir=tmp_path))
    yield app
    app.close()


def bell(app: Qorch) -> tuple[UUID, RunRequest]:
    user_id, _ = app.register_user("ada")
    experiment = str(app.create_experiment(user_id, "board").id)
    return user_id, RunRequest(experiment_id=experiment, circuits_qasm=[BELL_QASM2], shots=10)


def track_new(app: Qorch, board: JobBoard, after: int) -> int:
    board.track(app.recorder.select_notifications(start=after + 1, limit=1000))
    return app.recorder.max_notification_id() or 0


def test_a_small_submit_is_known_as_it_is_tracked_once_its_circuit_was_read(app: Qorch):
    user_id, request = bell(app)
    board = JobBoard(app)
    first = app.submit_job(user_id, request).id
    seen = track_new(app, board, 0)
    assert board.open[first].user is None  # its circuit's size is read in a worker thread
    anyio.run(board.learn_owners)
    assert board.open[first].user == str(user_id)

    second = app.submit_job(user_id, request).id
    track_new(app, board, seen)

    state = board.open[second]
    assert (state.user, state.batch_device, state.needs) == (str(user_id), "aer_simulator", "")
    assert board.open[first].batch_device == state.batch_device


def test_a_backlog_and_a_large_submit_are_left_to_the_worker_thread(app: Qorch):
    user_id, request = bell(app)
    board = JobBoard(app)
    app.submit_job(user_id, request)
    seen = track_new(app, board, 0)
    anyio.run(board.learn_owners)  # the circuit's size is known from now on

    backlog = [app.submit_job(user_id, request).id for _ in range(INLINE_PER_PAGE + 4)]
    sweep = replace(
        request, circuits_qasm=[RY_MEASURED], parameters=[[[0.001 * i] for i in range(1000)]]
    )
    large = app.submit_job(user_id, sweep).id
    track_new(app, board, seen)

    known = [job for job in backlog if board.open[job].user is not None]
    assert known == backlog[:INLINE_PER_PAGE]
    assert board.open[large].user is None
    anyio.run(board.learn_owners)
    assert all(board.open[job].user == str(user_id) for job in [*backlog, large])
    assert board.open[large].batch_device == ""  # a sweep of 1000 sets never runs in a batch
