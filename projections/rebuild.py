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
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from qorch.adapters.log_follower import PageReader, notifications_after, pages_for_a_fork
from qorch.domain.application import Qorch
from qorch.domain.budget import Budget
from qorch.domain.experiment import Experiment
from qorch.domain.job import Job
from qorch.projections.batch import Batch, id_text
from qorch.projections.database import SCHEMA, TRACKING, ViewDatabase, index_drops
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
    writer: WriterProcess | None = None
    second = 0
    try:
        views = ViewDatabase(path)  # the tables
        drop = index_drops(views.connection())  # built again at the end
        views.close()
        open_pages = pages_for_a_fork(app) if hasattr(os, "fork") else None
        writer = WriterProcess(str(path), drop, others=0 if open_pages is None else 1)
        head = app.recorder.max_notification_id() or 0
        if open_pages is not None:
            second = os.fork()
            if second == 0:
                _second_projector(app, open_pages, head, page_size, writer)
            writer.others[0].close()

        def first_pages(position: int, limit: int) -> list[Notification]:
            return list(notifications_after(app, position, limit))

        part = Part(None if second == 0 else False)
        carried = apply_log(app, first_pages, head, page_size, writer.first, part)
        deferred = Deferred(writer.first)
        batch = Batch(deferred)  # type: ignore[arg-type]
        batch.experiments.carried = carried.experiments
        for tally in writer.first.tallies():
            add_tally(batch, tally, carried.created)
        batch.flush()
        if head:
            deferred.executemany(TRACKING, [(app.name, head)])
        writer.first.write(deferred.statements)
        writer.first.finish(SCHEMA)
    except Exception as error:
        log.warning("rebuilding the views in several processes stopped (%s): in one now", error)
        return None
    finally:
        if writer is not None:
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
        carried = apply_log(app, open_pages(), head, page_size, peer, Part(True))
        peer.done(carried.tally)
        code = 0
    except BaseException:
        traceback.print_exc()  # the first projector only sees this one stop: say why here
    finally:
        os._exit(code)


@dataclass
class Carried:
    """What a projector hands on at the end of its part of the log."""

    experiments: Docs = field(default_factory=dict)
    """Experiments' documents carried (first projector)."""
    created: dict[str, int] = field(default_factory=dict)
    """Each experiment's log position of creation (first projector)."""
    tally: Tally = field(default_factory=dict)
    """What the second projector's events changed in experiments."""


def apply_log(
    app: Qorch, read_page: PageReader, head: int, page_size: int, writer: ViewWriter, part: Part
) -> Carried:
    """Applies this projector's part of the log up to `head`, each batch's writes sent to
    `writer`; answers what it hands on."""
    reader = EventReader(app.mapper)
    jobs: Docs = {}
    carried = Carried()
    tally = ExperimentTally()
    position = 0
    while position < head and (page := read_page(position, page_size)):
        position = page[-1].id
        mine = [n for n in page if n.id <= head and part(n)]
        deferred = Deferred(writer)
        batch = Batch(deferred)  # type: ignore[arg-type]
        batch.jobs.carried = jobs
        batch.jobs.only = part.owns
        if part.second:
            batch.experiments = tally  # type: ignore[assignment]
        else:
            batch.experiments.carried = carried.experiments
        for start in range(0, len(mine), READ_AHEAD):
            events = [(reader.to_domain_event(n), n.id) for n in mine[start : start + READ_AHEAD]]
            for event, at in events:
                if part.applies(event):
                    tally.at = at
                    project(event, at, batch)
                    if type(event) is Experiment.Created:
                        carried.created[id_text(event.originator_id)] = at
        batch.flush()
        writer.write(deferred.statements)
        carry(jobs, batch.jobs.docs)
        if not part.second:
            carry(carried.experiments, batch.experiments.docs)
    carried.tally = tally.docs
    return carried


JOB_OF: dict[type, str] = {Budget.Reserved: "job_id"}
"""Events of other aggregates that change a job's documents, and the field that names the job:
both projectors read them, and the one whose part the job is applies them."""


class Part:
    """Which events a projector applies: `second` True, those of jobs with an odd id; False,
    all others; None, every event. A projector that meets a job outside its part (an event of
    another aggregate that changes it, unknown here) stops the rebuild (`owns`)."""

    def __init__(self, second: bool | None) -> None:
        self.second = second
        self.kinds: dict[str, str | None] = {}

    def __call__(self, notification: Notification) -> bool:
        """Whether to read the notification's event."""
        if self.second is None:
            return True
        kind = self.kinds.get(notification.topic, "")
        if kind == "":
            kind = self.kinds[notification.topic] = _kind(notification.topic)
        if kind is None:
            return self.second is False
        if kind != "originator_id":
            return True  # read by both: `applies` tells once its job is known
        return _odd(notification.originator_id) is self.second

    def applies(self, event: Any) -> bool:
        """Whether to apply an event read (see `JOB_OF`)."""
        field = JOB_OF.get(type(event))
        return field is None or self.second is None or _odd(getattr(event, field)) is self.second

    def owns(self, job_id: str) -> bool:
        """Whether the job (its id as text) is in this part; ForeignJob if not."""
        if self.second is not None and (int(job_id[-1], 16) & 1 == 1) is not self.second:
            raise ForeignJob(f"job {job_id} is in the other projector's part")
        return True


class ForeignJob(Exception):
    """An event changes a job in the other projector's part."""


def _kind(topic: str) -> str | None:
    """The field naming the job an event class changes, or None."""
    try:
        cls = resolve_topic(topic)
    except Exception:  # read (and failed) by the first projector
        return None
    if issubclass(cls, Job.Event):
        return "originator_id"
    return JOB_OF.get(cls)


def _odd(job_id: object) -> bool:
    return isinstance(job_id, UUID) and job_id.int & 1 == 1


class ExperimentTally:
    """Stands in for the experiments' documents in the second projector: per experiment, the
    jobs its events counted and their latest action."""

    def __init__(self) -> None:
        self.docs: Tally = {}
        self.at = 0
        """The log position of the event being applied."""

    def get(self, key: str) -> dict[str, Any]:
        tally = self.docs.get(key)
        if tally is None:
            tally = self.docs[key] = {"jobs_count": 0, "last_action_date": "", "first": self.at}
        return tally

    def update(self, key: str) -> None:
        """(A tally is sent whole, at the end.)"""

    def flush(self) -> None:
        """(A tally is sent whole, at the end.)"""


def add_tally(batch: Batch, tally: Tally, created: dict[str, int]) -> None:
    """Adds a tally to the experiments' documents. An experiment that did not exist yet when the
    second projector's events touched it would have been left as it was by one projector:
    ForeignJob, then."""
    for experiment_id, counted in tally.items():
        doc = batch.experiments.get(experiment_id)
        if doc is not None:
            if counted["first"] < created.get(experiment_id, 0):
                raise ForeignJob(f"a job of experiment {experiment_id} came before it")
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
