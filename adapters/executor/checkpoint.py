"""The executor's tracked position: its job board as of a log position, kept beside the log.

Without it an executor reads the whole log at every start to learn which jobs are open (a log
of a million events took longer than everything else a server does at start-up together). With
it, the executor loads the board as it was at position P and follows the log from P.

What is kept: P, the open jobs with what the board knows of each (claimant, lease, age, owner,
priority, ...; the `OpenJob` fields, except a postponement, which is this process's own), and
the jobs set aside as unreadable. That is a function of the log up to P, so any executor may
write it and any executor may start from it: on a PostgreSQL log shared by several executors,
each writes the one row, and a write only moves P forward (`WHERE stored.position < new`).

Where: a table in the event store itself (the events file on SQLite, the store's schema on
PostgreSQL), written through the recorder's own connections. A file in the data directory would
outlive a replaced store (a deleted events file, another QORCH_DATABASE_URL, a restored
backup), and P from another log would skip events of this one; in the store, the checkpoint is
backed up, restored and deleted with the log it describes, and every executor of a shared log
finds it. It is written every few seconds when P moved, and at shutdown; never while a job is
claimed, run or recorded; the JSON is built and written in a worker thread, and a write that
took long spaces the next ones out (`WRITE_SHARE`).

Gaps: a checkpoint must not cover a position below which an event is not yet visible. The
board only holds what the follower read, in id order, and the store never shows an id before a
lower one: SQLite has one writer, and eventsourcing's PostgreSQL recorder takes an EXCLUSIVE
lock on the events table before inserting, so ids are issued in commit order (`_lock_table`).
Its database functions (POSTGRES_ENABLE_DB_FUNCTIONS) insert without that lock: then no
checkpoint is kept.

Anything amiss — no checkpoint, an unreadable or corrupt one, one written by code whose board
had other fields, a position beyond the log's head, an error of the store — and the executor
reads the log from 0, as without checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import zlib
from typing import Any, Protocol
from uuid import UUID

import anyio
import anyio.to_thread
from eventsourcing.persistence import Recorder

from qorch.adapters.executor.board import JobBoard, OpenJob
from qorch.adapters.log_follower import LogFollower
from qorch.adapters.side_tables import SideTables, side_tables_for
from qorch.domain.application import Qorch

log = logging.getLogger("qorch.executor")

FORMAT = 1
TABLE = "qorch_executor_checkpoint"
NAME = "jobs"
EVERY_SECONDS = 5.0
WRITE_SHARE = 0.05
"""A checkpoint write takes at most this share of the time: the next waits 1/share its length."""
KEPT = [f.name for f in dataclasses.fields(OpenJob) if f.name != "not_before"]
"""What is kept of an open job; a checkpoint that kept other fields is not used."""

Row = tuple[Any, ...]
Kept = tuple[int, dict[UUID, OpenJob], dict[UUID, str]]
"""A checkpoint read back: its position, the open jobs, the jobs set aside."""


class Checkpoints:
    """Loads the executor's board at start, and keeps writing it while the executor runs."""

    def __init__(self, app: Qorch, every: float = EVERY_SECONDS) -> None:
        self.app = app
        self.every = every
        self.table = table_for(app.recorder)
        self.saved = 0
        """The position of the last checkpoint written or loaded here."""
        self.failing = False

    async def restore(self, board: JobBoard) -> int:
        """Fills `board` from the last checkpoint; answers the position to follow the log
        from (0, and `board` untouched, when there is no usable checkpoint)."""
        if self.table is None:
            return 0
        try:
            found = await anyio.to_thread.run_sync(self._load)
        except Exception:
            log.exception("reading the executor's checkpoint failed; reading the whole log")
            return 0
        if found is None:
            return 0
        position, open_jobs, set_aside = found
        board.open.update(open_jobs)
        board.set_aside.update(set_aside)
        self.saved = position
        log.info("executor resumes at log position %d (%d open jobs)", position, len(open_jobs))
        return position

    async def keep(self, board: JobBoard, follower: LogFollower) -> None:
        """Writes the board every few seconds while the follower moves on, forever."""
        while True:
            took = await self.save(board, follower.position)
            await anyio.sleep(max(self.every, took / WRITE_SHARE))

    async def save(self, board: JobBoard, position: int) -> float:
        """Writes `board`, which reflects the log up to `position`; answers the seconds the
        write took. Called between the follower's pages (then board and position agree)."""
        if self.table is None or position <= self.saved:
            return 0.0
        rows = [
            (job_id.hex, *(getattr(state, name) for name in KEPT))
            for job_id, state in board.open.items()
        ]
        set_aside = {job_id.hex: reason for job_id, reason in board.set_aside.items()}
        started = time.monotonic()
        try:
            await anyio.to_thread.run_sync(self._write, position, rows, set_aside)
        except Exception:
            # Once, not every few seconds: start-up reads more of the log until it works again.
            if not self.failing:
                log.warning("writing the executor's checkpoint failed; will retry", exc_info=True)
            self.failing = True
        else:
            self.saved, self.failing = position, False
        return time.monotonic() - started

    def _write(self, position: int, rows: list[Row], set_aside: dict[str, str]) -> None:
        assert self.table is not None
        self.table.write(position, encode(position, rows, set_aside))

    def _load(self) -> Kept | None:
        assert self.table is not None
        stored = self.table.read()
        if stored is None:
            return None
        position, blob = stored
        found, problem = None, ""
        try:
            found = decode(position, blob)
        except Exception as error:  # whatever a damaged blob makes the decoder raise
            problem = f"it cannot be read ({type(error).__name__}: {error})"
        else:
            if found is None:
                problem = "it was written by code whose board had other fields"
            elif position > (head := self.app.recorder.max_notification_id() or 0):
                problem = f"it is past the log's head {head}: not this log's"
        if problem:
            log.warning(
                "the executor's checkpoint at position %d is not used: %s; reading the whole log",
                position,
                problem,
            )
            # Writes only move it forward: this one must go, or it would never be replaced.
            self.table.discard(position)
            return None
        return found


def encode(position: int, rows: list[Row], set_aside: dict[str, str]) -> bytes:
    """A checkpoint: each open job as its id (hex) and its `KEPT` fields; the jobs set aside."""
    document = {
        "format": FORMAT,
        "position": position,
        "fields": KEPT,
        "open": rows,
        "set_aside": set_aside,
    }
    return zlib.compress(json.dumps(document).encode(), 1)


def decode(position: int, blob: bytes) -> Kept | None:
    """The board a checkpoint holds; None when it was written in another format."""
    document = json.loads(zlib.decompress(blob))
    if document.get("format") != FORMAT or document.get("fields") != KEPT:
        return None
    if document["position"] != position:
        raise ValueError(f"position {document['position']} inside, {position} outside")
    open_jobs = {
        UUID(hex=row[0]): OpenJob(**dict(zip(KEPT, row[1:], strict=True)))
        for row in document["open"]
    }
    set_aside = {UUID(hex=job_id): str(reason) for job_id, reason in document["set_aside"].items()}
    return position, open_jobs, set_aside


class Table(Protocol):
    def read(self) -> tuple[int, bytes] | None: ...

    def write(self, position: int, blob: bytes) -> None: ...

    def discard(self, position: int) -> None: ...


def table_for(recorder: Recorder) -> Table | None:
    """The checkpoint's table in the event store; None for stores that keep none (in memory,
    or PostgreSQL inserting through database functions, which do not lock)."""
    tables = side_tables_for(recorder, {"checkpoint": TABLE}, SCHEMA, ordered_ids=True)
    return None if tables is None else CheckpointTable(tables)


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {checkpoint} (name TEXT PRIMARY KEY,"
    " position BIGINT NOT NULL, board {bytes} NOT NULL)",
)


@dataclasses.dataclass(frozen=True)
class CheckpointTable:
    tables: SideTables

    def read(self) -> tuple[int, bytes] | None:
        rows = self.tables.query("SELECT position, board FROM {checkpoint} WHERE name = ?", (NAME,))
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def write(self, position: int, blob: bytes) -> None:
        self.tables.run(
            [
                (
                    "INSERT INTO {checkpoint} AS stored (name, position, board) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
                    " board = excluded.board WHERE stored.position < excluded.position",
                    (NAME, position, blob),
                )
            ]
        )

    def discard(self, position: int) -> None:
        self.tables.run(
            [("DELETE FROM {checkpoint} WHERE name = ? AND position = ?", (NAME, position))]
        )
