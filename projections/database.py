"""The read-model database: SQLite tables of JSON documents plus the tracked log position.

Views are updated in the same transaction as the tracking row, so a view never reflects an event
twice or skips one, even when several API processes project into the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from pydantic_core import PydanticSerializationError, to_json

from qorch.projections.view_writer import SETUP as REBUILDING

SCHEMA = """
CREATE TABLE IF NOT EXISTS tracking (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
UPDATE tracking SET name = 'qorch' WHERE name = 'views';
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS experiments_by_user ON experiments (user_id, created);
CREATE TABLE IF NOT EXISTS circuits (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, experiment_id TEXT NOT NULL,
    content_hash TEXT NOT NULL, created TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS circuits_by_experiment ON circuits (experiment_id, created);
CREATE INDEX IF NOT EXISTS circuits_by_user ON circuits (user_id, created);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, experiment_id TEXT NOT NULL,
    status TEXT NOT NULL, device_id TEXT NOT NULL, created TEXT NOT NULL, doc TEXT NOT NULL,
    position INTEGER);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs (user_id, created);
CREATE INDEX IF NOT EXISTS jobs_by_experiment ON jobs (experiment_id, created);
CREATE TABLE IF NOT EXISTS job_inputs (job_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_results (job_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_circuits (
    job_id TEXT NOT NULL, circuit_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (job_id, position));
CREATE INDEX IF NOT EXISTS job_circuits_by_circuit ON job_circuits (circuit_id);
CREATE TABLE IF NOT EXISTS sdk_jobs (
    job_id TEXT PRIMARY KEY, job_type TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_user_status ON jobs (user_id, status, created);
CREATE INDEX IF NOT EXISTS jobs_by_user_device ON jobs (user_id, device_id, created);
CREATE INDEX IF NOT EXISTS jobs_by_user_change ON jobs (user_id, position);
CREATE TABLE IF NOT EXISTS usage (user_id TEXT PRIMARY KEY, stored_bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job_usage (
    user_id TEXT NOT NULL, day TEXT NOT NULL, device_id TEXT NOT NULL,
    jobs INTEGER NOT NULL, tasks INTEGER NOT NULL, shots INTEGER NOT NULL,
    estimated_micro_usd INTEGER NOT NULL, actual_micro_usd INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, device_id));
CREATE TABLE IF NOT EXISTS status_changes (
    position INTEGER PRIMARY KEY, user_id TEXT NOT NULL, job_id TEXT NOT NULL,
    experiment_id TEXT NOT NULL, status TEXT NOT NULL, status_date TEXT NOT NULL,
    attempts INTEGER NOT NULL, failed_executions INTEGER NOT NULL, error_code TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS status_changes_by_user ON status_changes (user_id, position);
CREATE INDEX IF NOT EXISTS status_changes_by_job ON status_changes (job_id, position);
CREATE TABLE IF NOT EXISTS set_aside (
    position INTEGER PRIMARY KEY, originator_id TEXT NOT NULL, topic TEXT NOT NULL,
    error TEXT NOT NULL);
"""
# (The UPDATE in SCHEMA: views tracked as "views" before they tracked the application's name.)
# A job's `position` is the log position of the last event that changed what the dashboard shows
# of it (its live stream resumes from there); NULL only where no such event was seen.
# (Positions were kept in a table of their own, `job_changes`, written beside every job's row:
# `migrate` moves them.)

VIEW_TABLES = (
    "experiments",
    "circuits",
    "jobs",
    "job_inputs",
    "job_results",
    "job_circuits",
    "sdk_jobs",
    "status_changes",
    "set_aside",
    "usage",
    "job_usage",
)


TRACKING = (
    "INSERT INTO tracking (name, position) VALUES (?, ?) ON CONFLICT (name)"
    " DO UPDATE SET position = excluded.position"
)
ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def dumps(doc: Any) -> str:
    """The document as JSON text, written by pydantic-core's serializer in a third of the json
    module's time for a job's document. Keys keep their order: handlers build and change
    documents in a fixed order, so a rebuild writes the text the live views hold. Values from
    outside (errors, estimates) are checked by `json_text` first, since this would also write
    what JSON has no type for (a UUID, a date); what this refuses (a lone surrogate) goes to the
    json module."""
    try:
        return to_json(doc).decode()
    except PydanticSerializationError:
        return ENCODER.encode(doc)


def json_text(value: Any) -> str:
    """`value` as JSON text; TypeError unless it is made of JSON's types."""
    return ENCODER.encode(value)


class ViewDatabase(TrackingRecorder):
    """The views and their tracking: eventsourcing's TrackingRecorder over one SQLite file, so
    a view and the position it reflects are written in the same transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._rebuilding = False
        migrate(self.connection())
        self.connection().executescript(SCHEMA)

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            # Views are rebuildable from the log, so they need not be fsynced on every commit.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
        return connection

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        db = self.connection()
        if self._rebuilding:
            yield db  # in the rebuild's one transaction: a failure fails the whole rebuild
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def rebuilding(self) -> Iterator[None]:
        """Fills a new, empty views file faster: one transaction for all the writes (a page of
        the file is written once, not once a batch), the rollback journal in memory, no syncs,
        a larger page cache, and the secondary indexes built once at the end. A crash can leave
        the file corrupt, which costs nothing: an unfinished rebuild is thrown away and done
        again from the log (`qorch replay`). A batch can still be rolled back to its savepoint
        (the journals are kept, in memory)."""
        db = self.connection()
        for statement in index_drops(db):
            db.execute(statement)
        for pragma in REBUILDING:
            db.execute(pragma)
        db.execute("BEGIN IMMEDIATE")
        self._rebuilding = True
        try:
            yield
            db.execute("COMMIT")
            db.executescript(SCHEMA)  # creates the indexes again
        finally:
            self._rebuilding = False
            self.close()  # the next connection has the usual settings

    def insert_tracking(self, tracking: Tracking) -> None:
        """Records the position in the connection's open transaction (see `writing`)."""
        self.connection().execute(TRACKING, (tracking.application_name, tracking.notification_id))

    def max_tracking_id(self, application_name: str) -> int | None:
        row = (
            self.connection()
            .execute("SELECT position FROM tracking WHERE name = ?", (application_name,))
            .fetchone()
        )
        return int(row[0]) if row else None

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every view row, in a stable order: two dumps are equal iff the views are."""
        db = self.connection()
        return {
            table: [tuple(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in VIEW_TABLES
        }

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def index_drops(db: sqlite3.Connection) -> list[str]:
    """The statements that drop the views' secondary indexes (SCHEMA creates them again)."""
    indexes = db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql NOT NULL")
    return [f"DROP INDEX {name}" for (name,) in indexes.fetchall()]


def remove_database(path: os.PathLike[str] | str) -> None:
    """Removes the SQLite file at `path` and its journals, if there are any."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{os.fspath(path)}{suffix}")


def migrate(db: sqlite3.Connection) -> None:
    """Brings a views file written by an earlier qorch to SCHEMA's tables, in one transaction
    (several processes may open the file at once), keeping what it holds."""
    if not _needs_migrating(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if _needs_migrating(db):  # not done meanwhile by another process
            db.execute("ALTER TABLE jobs ADD COLUMN position INTEGER")
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'job_changes'").fetchone():
                db.execute(
                    "UPDATE jobs SET position ="
                    " (SELECT c.position FROM job_changes c WHERE c.job_id = jobs.id)"
                )
                db.execute("DROP TABLE job_changes")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _needs_migrating(db: sqlite3.Connection) -> bool:
    columns = [row[1] for row in db.execute("PRAGMA table_info(jobs)")]
    return bool(columns) and "position" not in columns


def narrowed(query: str, params: list[Any], conditions: dict[str, Any]) -> str:
    """`query` (ending in a WHERE clause) with ` AND condition` for each condition (one `?`)
    whose value is not None, the value appended to `params`: filters left out match anything."""
    for condition, value in conditions.items():
        if value is not None:
            query += f" AND {condition}"
            params.append(value)
    return query


def stored_bytes(db: sqlite3.Connection, user_id: str) -> int:
    row = db.execute("SELECT stored_bytes FROM usage WHERE user_id = ?", (user_id,)).fetchone()
    return int(row[0]) if row else 0
