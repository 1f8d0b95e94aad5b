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
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.persistence import Recorder

from qorch.adapters.side_tables import SideTables, side_tables_for

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
    tables = side_tables_for(recorder, {"workers": TABLE}, SCHEMA)
    return None if tables is None else WorkersTable(tables)


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {workers} (worker_id TEXT PRIMARY KEY,"
    " capabilities TEXT NOT NULL, heartbeat DOUBLE PRECISION NOT NULL)",
)


@dataclass(frozen=True)
class WorkersTable:
    tables: SideTables

    def write(self, worker_id: str, capabilities: str, heartbeat: float) -> None:
        self.tables.run(
            [
                (
                    "INSERT INTO {workers} (worker_id, capabilities, heartbeat) VALUES (?, ?, ?)"
                    " ON CONFLICT (worker_id) DO UPDATE SET capabilities ="
                    " excluded.capabilities, heartbeat = excluded.heartbeat",
                    (worker_id, capabilities, heartbeat),
                ),
                ("DELETE FROM {workers} WHERE heartbeat < ?", (heartbeat - FORGOTTEN_AFTER,)),
            ]
        )

    def delete(self, worker_id: str) -> None:
        self.tables.run([("DELETE FROM {workers} WHERE worker_id = ?", (worker_id,))])

    def rows(self) -> list[Row]:
        rows = self.tables.query("SELECT worker_id, capabilities, heartbeat FROM {workers}")
        return [(str(row[0]), str(row[1]), float(row[2])) for row in rows]

    def create(self) -> None:
        self.tables.create()
