"""A big event store, fast: jobs recorded through the domain once, then repeated with fresh ids.

The template is recorded through the application in a scratch store: users, per user an
experiment with its stored Bell circuit and JOBS_PER_EXPERIMENT jobs, each checked and planned by
`Qorch` (the submit path) and recorded by the `Job` aggregate's own commands (Submitted, Claimed,
Executed with a Bell result; no simulation), 200 jobs a transaction. The big store holds the
users' events, then copies of the template (the last copy is the template itself). A copy gives
every experiment, circuit and job a fresh id (a circuit's derived from its experiment's, as the
domain does) and shifts every timestamp, so that copies follow each other in time: its states are
the template's bytes with those ids and timestamps replaced, so every event decodes and projects
like the one it copies (`check_copies` compares the first copy's views with the template's).
Rows go in with the recorder's own insert statement, CHUNK a transaction; then a `Projector`
brings the views to the log head, as a server that had followed the log would have them.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from common import BELL_QASM

JOBS_PER_EXPERIMENT = 500
USERS = 3
BATCH = 200
CHUNK = 50_000
EVENTS_PER_JOB = 3
TOKEN = re.compile(
    rb"(?<![0-9a-f-])(?P<id>[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
    rb'[0-9a-f]{12})(?![0-9a-f-])|"_type_":"datetime_iso","_data_":"(?P<time>[^"]+)"'
)
Slot = tuple[str, UUID | datetime]
"""What a copy puts in: ("hex" | "str" | "origin", id) or ("time", timestamp)."""
Event = tuple[int | str, int, str, list[bytes | int]]
"""(originator, version, topic, state), with slots (ints) where a copy puts its values."""


@dataclass
class BigStore:
    data_dir: Path
    events: int
    """The log head."""
    keys: list[str]
    """The users' API keys."""
    jobs: list[list[str]]
    """Every job of each user (all Done)."""
    copies: int = 0
    template_seconds: float = 0.0
    copy_seconds: float = 0.0
    views_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        total = self.template_seconds + self.copy_seconds + self.views_seconds
        return (
            f"built {self.events:,} events ({sum(map(len, self.jobs)):,} Done jobs) in "
            f"{total:.1f} s: template {self.template_seconds:.1f} s through the domain, "
            f"{self.copies} copies "
            f"{self.copy_seconds:.1f} s ({self.events / max(self.copy_seconds, 1e-9):,.0f} "
            f"events/s), views projected {self.views_seconds:.1f} s"
        )


@dataclass
class Template:
    events: list[Event]
    slots: list[Slot]
    prefix: int
    """The first `prefix` events (the users') are written once, not copied."""
    circuits: dict[UUID, tuple[UUID, str]]
    """Circuit id -> (its experiment, its content hash)."""
    jobs: list[list[UUID]]
    keys: list[str]
    span: timedelta

    def copy(self, ids: dict[UUID, UUID], shift: timedelta) -> list[tuple[str, int, str, bytes]]:
        """The template's rows with these ids and timestamps put in."""
        values: list[Any] = [fill(slot, ids, shift) for slot in self.slots]
        return [
            (
                values[o] if isinstance(o, int) else o,
                version,
                topic,
                b"".join([values[p] if isinstance(p, int) else p for p in parts]),
            )
            for o, version, topic, parts in self.events
        ]


def fill(slot: Slot, ids: dict[UUID, UUID], shift: timedelta) -> bytes | str:
    kind, value = slot
    if isinstance(value, datetime):
        return (value + shift).isoformat().encode()
    new = ids.get(value, value)
    return new.hex if kind == "origin" else (new.hex if kind == "hex" else str(new)).encode()


def record_template(scratch: Path) -> Template:
    """The template, recorded through the application in a scratch store."""
    from qorch.bootstrap import open_application
    from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
    from qorch.domain.requests import RunRequest
    from qorch.domain.results import nest_results
    from qorch.settings import Settings

    app = open_application(Settings(data_dir=scratch))
    bell = CircuitOutcome(
        distributions=[{"00": 0.5, "11": 0.5}],
        counts=[{"00": 50, "11": 50}],
        transpiled={"qubits": 2, "depth": 3, "gates_1q": 1, "gates_2q": 1},
    )
    outcome = ExecutionOutcome(circuits=[bell], metadata={"bench": "big-store"})
    results = nest_results(outcome, with_parameters=False, with_observables=False)
    try:
        users = [app.register_user(f"bench-{i}") for i in range(USERS)]
        prefix = app.recorder.max_notification_id() or 0
        requests, circuits = [], {}
        for user_id, _ in users:
            experiment_id = str(app.create_experiment(user_id, "bench").id)
            circuit, _ = app.store_circuit(user_id, experiment_id, BELL_QASM)
            circuits[circuit.id] = (circuit.experiment_id, circuit.content_hash)
            requests.append(
                RunRequest(experiment_id=experiment_id, circuit_ids=[str(circuit.id)], shots=100)
            )
        jobs: list[list[UUID]] = [[] for _ in users]
        total = USERS * JOBS_PER_EXPERIMENT
        for start in range(0, total, BATCH):
            batch = []
            for number in range(start, min(start + BATCH, total)):
                owner = number % USERS
                job, _, _ = app._new_job(users[owner][0], requests[owner])
                job.claim("bench-worker", time.time(), 30.0, False)
                job.record_results("bench-worker", results)
                batch.append(job)
                jobs[owner].append(job.id)
            app.save(*batch)
        assert app.mapper.compressor is None and app.mapper.cipher is None, "states are cut"
        notifications = app.recorder.select_notifications(start=1, limit=10**7)
    finally:
        app.close()
    slots: dict[Slot, int] = {}
    events: list[Event] = []
    for i, n in enumerate(notifications):
        originator = UUID(str(n.originator_id))
        key: Slot = ("origin", originator)
        origin = slots.setdefault(key, len(slots)) if i >= prefix else originator.hex
        events.append((origin, n.originator_version, n.topic, cut(n.state, slots)))
    times = [value for kind, value in slots if kind == "time"]
    span = max(times) - min(times) + timedelta(milliseconds=1)  # type: ignore[operator]
    return Template(events, list(slots), prefix, circuits, jobs, [k for _, k in users], span)


def cut(state: bytes, slots: dict[Slot, int]) -> list[bytes | int]:
    """A state as literal bytes and slots for the ids and timestamps in it."""
    parts: list[bytes | int] = []
    at = 0
    for match in TOKEN.finditer(state):
        if match["id"] is not None:
            start, end = match.span("id")
            key: Slot = ("hex" if end - start == 32 else "str", UUID(match["id"].decode()))
        else:
            start, end = match.span("time")
            key = ("time", datetime.fromisoformat(match["time"].decode()))
        parts += [state[at:start], slots.setdefault(key, len(slots))]
        at = end
    return [*parts, state[at:]]


def fresh_ids(template: Template) -> dict[UUID, UUID]:
    """New ids for the copied aggregates (users keep theirs)."""
    from qorch.domain.circuit import Circuit

    ids = {
        value: uuid4()
        for kind, value in template.slots
        if kind == "origin" and value not in template.circuits
    }
    for circuit_id, (experiment_id, content_hash) in template.circuits.items():
        ids[circuit_id] = Circuit.create_id(ids[experiment_id], content_hash)  # type: ignore[index]
    return ids  # type: ignore[return-value]


def build(data_dir: Path, events: int, views: bool = True) -> BigStore:
    """A store in `data_dir` of at least `events` events, its views at the log head."""
    from qorch.bootstrap import open_application
    from qorch.settings import Settings

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qorch-bench-template-") as scratch:
        template = record_template(Path(scratch) / "data")
    copies = max(1, -(-(events - template.prefix) // (len(template.events) - template.prefix)))
    owners: list[list[str]] = [[] for _ in template.jobs]
    store = BigStore(data_dir, 0, template.keys, owners, copies, time.perf_counter() - started)
    app = open_application(Settings(data_dir=data_dir))
    recorder = app.recorder
    started = time.perf_counter()
    try:
        oldest = template.span * (1 - copies)
        pending = template.copy({}, oldest)[: template.prefix]
        first: dict[UUID, UUID] = {}
        for number in range(copies):
            last = number == copies - 1  # the last copy is the template itself
            ids = {} if last else fresh_ids(template)
            first = first or ids
            pending += template.copy(ids, template.span * (number + 1 - copies))[template.prefix :]
            for owner, owned in enumerate(template.jobs):
                owners[owner] += [str(ids.get(job_id, job_id)) for job_id in owned]
            if len(pending) >= CHUNK or last:
                # Not insert_events: it runs one statement an event, to learn each position.
                with recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
                    cursor.executemany(recorder.insert_events_statement, pending)  # type: ignore[attr-defined]
                pending = []
        store.events = recorder.max_notification_id() or 0
        store.copy_seconds = time.perf_counter() - started
        if views:
            started = time.perf_counter()
            path = Settings(data_dir=data_dir).views_path
            project(app, path)
            store.views_seconds = time.perf_counter() - started
            if copies > 1:
                store.problems += check_copies(path, template, first, oldest, copies - 1)
    finally:
        app.close()
    return store


def project(app: Any, path: Path) -> int:
    from qorch.projections.database import ViewDatabase
    from qorch.projections.projector import Projector

    views, quiet = ViewDatabase(path), logging.getLogger("qorch.projector")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # check_copies counts the events set aside
    try:
        return Projector(app, views).rebuild()
    finally:
        quiet.setLevel(level)
        views.close()


TEXT = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|"
    r"\d{4}-\d\d-\d\dT[0-9:.]+\+00:00"
)


def check_copies(
    path: Path, template: Template, ids: dict[UUID, UUID], shift: timedelta, copies_apart: int
) -> list[str]:
    """The views' rows of the template's experiments, circuits and first jobs, with the first
    copy's ids and timestamps put in, must be the first copy's rows; a column named `position`
    (a log position) may differ by the distance between the two copies in the log."""
    from qorch.projections.projector import set_aside_events

    renamed = {str(old): str(new) for old, new in ids.items()}
    renamed |= {old.hex: new.hex for old, new in ids.items()}
    times = [value for _, value in template.slots if isinstance(value, datetime)]
    renamed |= {value.isoformat(): (value + shift).isoformat() for value in times}
    distance = copies_apart * (len(template.events) - template.prefix)
    sample = [*template.circuits, *(e for e, _ in template.circuits.values())]
    sample += [job_id for owned in template.jobs for job_id in owned[:3]]
    problems: list[str] = []
    compared = 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        problems += [f"event set aside by the views: {e}" for e in set_aside_events(db)[:3]]
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            for key in (c for c in columns if c in ("id", "job_id")):
                for old in sample:
                    query = f"SELECT * FROM {table} WHERE {key} = ?"
                    rows = db.execute(query, (str(old),)).fetchall()
                    copied = db.execute(query, (str(ids[old]),)).fetchall()
                    expected = [mapped(row, columns, renamed, distance) for row in rows]
                    compared += len(rows)
                    if sorted(expected, key=repr) != sorted(copied, key=repr):
                        problems.append(f"views.{table} of copied {old} differ: {copied[:1]}")
    if compared < len(sample):
        problems.append(f"only {compared} view rows of {len(sample)} copied aggregates found")
    return problems


def mapped(row: tuple, columns: list[str], renamed: dict[str, str], distance: int) -> tuple:
    """A template's row as the first copy's: ids and timestamps renamed, log positions moved."""
    return tuple(
        TEXT.sub(lambda m: renamed.get(m[0], m[0]), value)
        if isinstance(value, str)
        else value - distance
        if name == "position" and isinstance(value, int) and value > distance
        else value
        for name, value in zip(columns, row, strict=True)
    )
