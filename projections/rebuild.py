"""A new views file filled from the whole log on every core there is: two projectors share the
jobs, a writer process writes the rows.

Each projector applies its part of the log as the projector does (`project`), in batches of
documents in memory, and sends each batch's writes to the writer (`ViewWriter`) instead of
SQLite; the documents a batch changed are carried into the next batch (the writer has them, or
will have them before it answers a read). The second projector (forked from this process, on a
SQLite log) applies the events of half of the jobs, chosen by id; the first, everything else.
A job's events change the job's own rows, sums that add up in any order (usage), and its
experiment: the second projector tallies jobs counted and the latest action per experiment,
which the first adds to the experiment's document at the end (a count adds, the latest action is
a maximum: the document the one-process projector would leave).

Anything unusual — an event that cannot be read or applied, a row SQLite refuses, a process that
stops — ends the attempt: the file is thrown away and filled again by the projector alone, which
sets such events aside (`Projector.apply`).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from qorch.adapters.log_follower import PageReader, notifications_after, pages_for_a_fork
from qorch.domain.application import Qorch
from qorch.domain.job import Job
from qorch.projections.batch import Batch
from qorch.projections.database import SCHEMA, TRACKING, ViewDatabase
from qorch.projections.projector import READ_AHEAD, project
from qorch.projections.reading import EventReader
from qorch.projections.view_writer import Statements, ViewWriter, WriterProcess

log = logging.getLogger("qorch.projector")
PAGE = 5000
CARRIED = 20_000
"""Documents carried from batch to batch at most (a job's events are seldom far apart)."""
Docs = dict[str, dict[str, Any] | None]
Tally = dict[str, dict[str, Any]]


def rebuild_beside(app: Qorch, path: Path, page_size: int = PAGE) -> int | None:
    """Fills the new views file at `path` with the whole log; answers the log position reached,
    or None when it gave up (see the module's docstring): the file is then to be thrown away."""
    views = ViewDatabase(path)  # the tables
    indexes = views.connection().execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql NOT NULL"
    )
    drop = [f"DROP INDEX {name}" for (name,) in indexes.fetchall()]  # built again at the end
    views.close()
    open_pages = pages_for_a_fork(app) if hasattr(os, "fork") else None
    writer = WriterProcess(str(path), drop, others=0 if open_pages is None else 1)
    head = app.recorder.max_notification_id() or 0
    second = 0
    if open_pages is not None:
        second = os.fork()
        if second == 0:
            _second_projector(app, open_pages, head, page_size, writer)
        writer.others[0].close()
    try:

        def first_pages(position: int, limit: int) -> list[Notification]:
            return list(notifications_after(app, position, limit))

        part = Part(None if second == 0 else False)
        experiments, _ = apply_log(app, first_pages, head, page_size, writer.first, part)
        deferred = Deferred(writer.first)
        batch = Batch(deferred)  # type: ignore[arg-type]
        batch.experiments.carried = experiments
        for tally in writer.first.tallies():
            add_tally(batch, tally)
        batch.flush()
        if head:
            deferred.executemany(TRACKING, [(app.name, head)])
        writer.first.write(deferred.statements)
        writer.first.finish(SCHEMA)
    except Exception as error:
        log.warning("rebuilding the views in several processes stopped (%s): in one now", error)
        return None
    finally:
        writer.close()
        if second:
            os.kill(second, signal.SIGKILL)  # gone already, unless this attempt failed
            os.waitpid(second, 0)
    return head


def _second_projector(
    app: Qorch,
    open_pages: Callable[[], PageReader],
    head: int,
    page_size: int,
    writer: WriterProcess,
) -> None:
    """The forked process: applies its jobs' events, hands over its tally, and exits (without
    running what this process would run at exit)."""
    code = 1
    try:
        writer.first.connection.close()  # the writer sees the first projector go when it goes
        peer = ViewWriter(writer.others[0])
        _, tally = apply_log(app, open_pages(), head, page_size, peer, Part(True))
        peer.done(tally)
        code = 0
    finally:
        os._exit(code)


def apply_log(
    app: Qorch, read_page: PageReader, head: int, page_size: int, writer: ViewWriter, part: Part
) -> tuple[Docs, Tally]:
    """Applies this projector's part of the log up to `head`, each batch's writes sent to
    `writer`; answers the experiments' documents it carries, and its tally (second projector)."""
    reader = EventReader(app.mapper)
    jobs: Docs = {}
    experiments: Docs = {}
    tally = ExperimentTally()
    position = 0
    while position < head and (page := read_page(position, page_size)):
        position = page[-1].id
        mine = [n for n in page if n.id <= head and part(n)]
        deferred = Deferred(writer)
        batch = Batch(deferred)  # type: ignore[arg-type]
        batch.jobs.carried = jobs
        if part.second:
            batch.experiments = tally  # type: ignore[assignment]
        else:
            batch.experiments.carried = experiments
        for start in range(0, len(mine), READ_AHEAD):
            events = [(reader.to_domain_event(n), n.id) for n in mine[start : start + READ_AHEAD]]
            for event, at in events:
                project(event, at, batch)
        batch.flush()
        writer.write(deferred.statements)
        carry(jobs, batch.jobs.docs)
        if not part.second:
            carry(experiments, batch.experiments.docs)
    return experiments, tally.docs


class Part:
    """Which events a projector applies: `second` True, the events of jobs with an odd id;
    False, all others; None, every event."""

    def __init__(self, second: bool | None) -> None:
        self.second = second
        self.of_jobs: dict[str, bool] = {}

    def __call__(self, notification: Notification) -> bool:
        if self.second is None:
            return True
        of_a_job = self.of_jobs.get(notification.topic)
        if of_a_job is None:
            of_a_job = self.of_jobs[notification.topic] = _of_a_job(notification.topic)
        originator_id = notification.originator_id
        odd = isinstance(originator_id, UUID) and originator_id.int & 1 == 1
        return (of_a_job and odd) is self.second


def _of_a_job(topic: str) -> bool:
    try:
        return issubclass(resolve_topic(topic), Job.Event)
    except Exception:  # read (and failed) by the first projector
        return False


class ExperimentTally:
    """Stands in for the experiments' documents in the second projector: per experiment, the
    jobs its events counted and their latest action."""

    def __init__(self) -> None:
        self.docs: Tally = {}

    def get(self, key: str) -> dict[str, Any]:
        tally = self.docs.get(key)
        if tally is None:
            tally = self.docs[key] = {"jobs_count": 0, "last_action_date": ""}
        return tally

    def update(self, key: str) -> None:
        """(A tally is sent whole, at the end.)"""

    def flush(self) -> None:
        """(A tally is sent whole, at the end.)"""


def add_tally(batch: Batch, tally: Tally) -> None:
    for experiment_id, counted in tally.items():
        doc = batch.experiments.get(experiment_id)
        if doc is not None:
            doc["jobs_count"] += counted["jobs_count"]
            doc["last_action_date"] = max(doc["last_action_date"], counted["last_action_date"])
            batch.experiments.update(experiment_id)


class Deferred:
    """Stands in for the views' connection in a batch: keeps its writes, in order, for the
    writer, and reads through the writer."""

    def __init__(self, writer: ViewWriter) -> None:
        self.writer = writer
        self.statements: Statements = []
        self.row: tuple[Any, ...] | None = None

    def executemany(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.statements.append((statement, rows))

    def execute(self, select: str, params: tuple[Any, ...]) -> Deferred:
        self.row = self.writer.read(select, params)
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.row


def carry(carried: Docs, docs: Docs) -> None:
    """Adds a batch's documents to those carried to the next batch; past CARRIED, the older
    half is dropped (read again through the writer if needed)."""
    carried.update(docs)
    if len(carried) > CARRIED:
        for key in list(islice(carried, len(carried) - CARRIED // 2)):
            del carried[key]
