"""Workers' advertisements: which live worker can do what, in a table beside the event store.

A worker that can do more than every worker can (it has a GPU) writes a row: its id, its
capabilities as JSON and a heartbeat (its clock, in seconds since the epoch), renewed while it
runs and deleted when it stops (capabilities.py). A worker is live while its heartbeat is
younger than one lease (QORCH_LEASE_SECONDS): one that could not renew it for that long is gone,
as its claims are. The catalogue lists the devices that need a capability while a live worker
advertises it (adapters/worker_catalogue.py).

Where: like the executor's checkpoint (checkpoint.py), in the event store's own database (the
events file on SQLite, the store's schema on PostgreSQL), written through the recorder's own
connections, so that every process sharing a PostgreSQL log sees the same workers and a
replaced store forgets them. One `Adverts` object per store and process (`adverts_for`): the
catalogue and the executor of one process share it, so a worker's own capabilities are known
there without a read, and the table is read at most once per `REFRESH` seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from typing import Any, Protocol

from eventsourcing.persistence import Recorder

log = logging.getLogger("qorch.executor")

TABLE = "qorch_workers"
REFRESH = 1.0
"""Seconds a read of the table is reused (listing and submitting read it)."""
FORGOTTEN_AFTER = 86_400.0
"""Rows of workers that died without withdrawing are deleted once this old."""
MAX_CAPABILITIES = 64 * 1024
"""Characters of a row's JSON; a longer one is not read."""

Capabilities = dict[str, Any]
Row = tuple[str, str, float]
"""worker id, capabilities (JSON), heartbeat."""


class Table(Protocol):
    def write(self, worker_id: str, capabilities: str, heartbeat: float) -> None: ...

    def delete(self, worker_id: str) -> None: ...

    def rows(self) -> list[Row]: ...

    def create(self) -> None: ...


class Adverts:
    def __init__(self, table: Table | None, refresh: float = REFRESH) -> None:
        self.table = table
        self.refresh = refresh
        self.own: dict[str, Capabilities] = {}
        """Capabilities of this process's workers, by worker id."""
        self._rows: list[Row] = []
        self._read_at = float("-inf")
        self._lock = threading.Lock()
        self._failing = False

    def advertise(self, worker_id: str, capabilities: Capabilities) -> None:
        """Writes (or renews) a worker's row; blocking. Raises what the store raises."""
        self.own[worker_id] = capabilities
        if self.table is not None:
            self.table.write(worker_id, json.dumps(capabilities, sort_keys=True), time.time())

    def withdraw(self, worker_id: str) -> None:
        self.own.pop(worker_id, None)
        if self.table is not None:
            self.table.delete(worker_id)
        self._read_at = float("-inf")

    def live(self, ttl: float) -> list[Capabilities]:
        """The capabilities of every worker live when the table was last read (this process's
        included), ordered by worker id; a row that cannot be read is left out."""
        found = dict(self.own)
        rows, read_at = self._cached_rows(time.time())
        for worker_id, text, heartbeat in rows:
            if worker_id in found or heartbeat < read_at - ttl or len(text) > MAX_CAPABILITIES:
                continue
            try:
                capabilities = json.loads(text)
            except ValueError:
                continue
            if isinstance(capabilities, dict):
                found[worker_id] = capabilities
        return [found[worker_id] for worker_id in sorted(found)]

    def _cached_rows(self, now: float) -> tuple[list[Row], float]:
        if self.table is None or now - self._read_at < self.refresh:
            return self._rows, self._read_at
        with self._lock:
            if now - self._read_at >= self.refresh:
                try:
                    self._rows = self.table.rows()
                except Exception:  # the store is unreachable for a moment: the last rows stand
                    if not self._failing:
                        log.warning("reading the workers' advertisements failed", exc_info=True)
                    self._failing = True
                else:
                    self._failing = False
                self._read_at = now
            return self._rows, self._read_at


_per_store: weakref.WeakKeyDictionary[Recorder, Adverts] = weakref.WeakKeyDictionary()
_per_store_lock = threading.Lock()


def adverts_for(recorder: Recorder) -> Adverts:
    """The one `Adverts` of this store in this process (without a table for stores that keep
    none: the in-memory one of tests; then only this process's own workers are known)."""
    with _per_store_lock:
        found = _per_store.get(recorder)
        if found is None:
            found = _per_store[recorder] = Adverts(table_for(recorder))
        return found


def table_for(recorder: Recorder) -> Table | None:
    from eventsourcing.sqlite import SQLiteRecorder

    if isinstance(recorder, SQLiteRecorder):
        return SQLiteTable(recorder.datastore)
    try:
        from eventsourcing.postgres import PostgresRecorder
    except ImportError:  # psycopg is not installed: the store cannot be PostgreSQL
        return None
    if isinstance(recorder, PostgresRecorder):
        return PostgresTable(recorder.datastore)
    return None


class SQLiteTable:
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.created = False

    def write(self, worker_id: str, capabilities: str, heartbeat: float) -> None:
        self.create()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (worker_id, capabilities, heartbeat) VALUES (?, ?, ?)"
                " ON CONFLICT (worker_id) DO UPDATE SET capabilities = excluded.capabilities,"
                " heartbeat = excluded.heartbeat",
                (worker_id, capabilities, heartbeat),
            )
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE heartbeat < ?", (heartbeat - FORGOTTEN_AFTER,)
            )

    def delete(self, worker_id: str) -> None:
        self.create()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE worker_id = ?", (worker_id,))

    def rows(self) -> list[Row]:
        self.create()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT worker_id, capabilities, heartbeat FROM {TABLE}")
            return [(str(row[0]), str(row[1]), float(row[2])) for row in cursor.fetchall()]

    def create(self) -> None:
        if not self.created:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} (worker_id TEXT PRIMARY KEY,"
                    " capabilities TEXT NOT NULL, heartbeat REAL NOT NULL)"
                )
            self.created = True


class PostgresTable:
    def __init__(self, datastore: Any) -> None:
        from psycopg import sql

        self.datastore = datastore
        self.table = sql.Identifier(datastore.schema, TABLE)
        self.created = False

    def write(self, worker_id: str, capabilities: str, heartbeat: float) -> None:
        from psycopg import sql

        self.create()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {0} (worker_id, capabilities, heartbeat) VALUES (%s, %s, %s)"
                    " ON CONFLICT (worker_id) DO UPDATE SET capabilities ="
                    " excluded.capabilities, heartbeat = excluded.heartbeat"
                ).format(self.table),
                (worker_id, capabilities, heartbeat),
            )
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE heartbeat < %s").format(self.table),
                (heartbeat - FORGOTTEN_AFTER,),
            )

    def delete(self, worker_id: str) -> None:
        from psycopg import sql

        self.create()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE worker_id = %s").format(self.table), (worker_id,)
            )

    def rows(self) -> list[Row]:
        from psycopg import sql

        self.create()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                sql.SQL("SELECT worker_id, capabilities, heartbeat FROM {}").format(self.table)
            )
            return [
                (str(row["worker_id"]), str(row["capabilities"]), float(row["heartbeat"]))
                for row in cursor.fetchall()
            ]

    def create(self) -> None:
        from psycopg import sql

        if self.created:
            return
        with self.datastore.transaction(commit=True) as cursor:
            # Concurrent CREATE TABLE IF NOT EXISTS can fail ("tuple concurrently updated"):
            # processes starting together take turns.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            cursor.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (worker_id TEXT PRIMARY KEY,"
                    " capabilities TEXT NOT NULL, heartbeat DOUBLE PRECISION NOT NULL)"
                ).format(self.table)
            )
        self.created = True
