"""A batch of events applied to the views in memory, then written once.

Handlers change a `Batch` rather than the database: a job's or an experiment's document is read
at most once, changed in memory by every event of the batch that concerns it, and written once by
`flush`, which writes every other row with one `executemany` per statement. The rows written are
those the events would have left applied one at a time (the projector applies a batch of one event
when an event fails), in the same order, so the views do not depend on how the log was batched.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any
from uuid import UUID

from qorch.projections.database import dumps, json_text
from qorch.projections.reading import iso_text

Handlers = dict[type, Callable[[Any, "Batch"], None]]
"""Per event class, what it changes in the views (each projections module has its own)."""

JOB_COLUMNS = {
    "user_id": "user_id",
    "experiment_id": "experiment_id",
    "status": "status",
    "device_id": "device_id",
    "created": "creation_date",
}
"""The jobs table's indexed columns, and the document field each copies."""
EXPERIMENT_COLUMNS = {"user_id": "user_id", "created": "creation_date"}


class Documents:
    """One table of JSON documents by id, some fields copied to indexed columns: `changed` (a
    column an update rewrites besides the document); `positioned`, the table's `position` column
    holds the log position of the document's last change `moved` reports (kept by updates that
    report none)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        table: str,
        columns: dict[str, str],
        changed: tuple[str, ...],
        positioned: bool = False,
    ) -> None:
        self.db = db
        self.table = table
        self.select = f"SELECT doc FROM {table} WHERE id = ?"
        names = ["id", *columns, "doc"]
        sets = [f"{name} = ?" for name in (*changed, "doc")]
        if positioned:
            names.append("position")
            sets.append("position = COALESCE(?, position)")
        marks = ", ".join("?" * len(names))
        self.insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
        self.update_doc = f"UPDATE {table} SET {', '.join(sets)} WHERE id = ?"
        self.column_fields = list(columns.values())
        self.changed_fields = [columns[name] for name in changed]
        self.positioned = positioned
        self.docs: dict[str, dict[str, Any] | None] = {}
        self.carried: dict[str, dict[str, Any] | None] = {}
        """Documents as earlier batches left them, already written or on their way
        (projections/rebuild.py)."""
        self.only: Callable[[str], bool] | None = None
        """Raises for a document the batch must not touch (a rebuild's part)."""
        self.added: dict[str, None] = {}  # insertion-ordered: rows keep the log's order
        self.updated: dict[str, None] = {}
        self.positions: dict[str, int] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The document as the batch's earlier events left it; None when there is none."""
        try:
            return self.docs[key]
        except KeyError:
            if self.only is not None:
                self.only(key)
            if key in self.carried:
                doc = self.docs[key] = self.carried[key]
                return doc
            row = self.db.execute(self.select, (key,)).fetchone()
            doc = self.docs[key] = json.loads(row[0]) if row else None
            return doc

    def add(self, key: str, doc: dict[str, Any]) -> None:
        if self.only is not None:
            self.only(key)
        if self.docs.get(key, self.carried.get(key)) is not None:
            raise sqlite3.IntegrityError(f"UNIQUE constraint failed: {self.table}.id")
        self.docs[key] = doc
        self.added[key] = None

    def update(self, key: str) -> None:
        """Marks the document (changed in place) to be written."""
        if key not in self.added:
            self.updated[key] = None

    def moved(self, key: str, position: int) -> None:
        """Records that the document (if there is one) changed at log position `position`."""
        if self.get(key) is not None:
            self.positions[key] = position
            self.update(key)

    def flush(self) -> None:
        if self.added:
            rows = [(key, *self._values(key, self.column_fields)) for key in self.added]
            self.db.executemany(self.insert, rows)
        if self.updated:
            rows = [(*self._values(key, self.changed_fields), key) for key in self.updated]
            self.db.executemany(self.update_doc, rows)

    def _values(self, key: str, fields: list[str]) -> list[Any]:
        """The document's `fields`, the document itself as JSON, then its position."""
        doc = self.docs[key]
        assert doc is not None
        values = [doc[field] for field in fields]
        values.append(dumps(doc))
        if self.positioned:
            values.append(self.positions.get(key))
        return values


class Batch:
    """What a batch of events changes in the views, until `flush` writes it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.jobs = Documents(db, "jobs", JOB_COLUMNS, changed=("status",), positioned=True)
        self.experiments = Documents(db, "experiments", EXPERIMENT_COLUMNS, changed=())
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.results: dict[str, str | None] = {}
        """A job's results document, or None where a restart deleted it."""
        self.usage: dict[str, int] = {}
        self.sums: dict[str, dict[tuple[Any, ...], list[int]]] = {}

    def insert(self, statement: str, *rows: tuple[Any, ...]) -> None:
        """Rows for `statement`, written in the order given (an INSERT OR REPLACE's last wins)."""
        self.rows.setdefault(statement, []).extend(rows)

    def add_up(self, statement: str, key: tuple[Any, ...], counts: tuple[int, ...]) -> None:
        """Adds integer `counts` to the batch's sums for `key`; `flush` writes each key's sums
        once, with `statement` (an upsert adding them to the row's): integer sums are the same
        in any order, so the row is the same as with one upsert an event."""
        sums = self.sums.setdefault(statement, {})
        total = sums.get(key)
        if total is None:
            sums[key] = list(counts)
        else:
            for i, count in enumerate(counts):
                total[i] += count

    def add_usage(self, user_id: str, stored_bytes: int) -> None:
        """Counts what a user's events stored (circuit texts, job inputs, results): the quota."""
        self.usage[user_id] = self.usage.get(user_id, 0) + stored_bytes

    def flush(self) -> None:
        self.experiments.flush()
        self.jobs.flush()
        for statement, rows in self.rows.items():
            self.db.executemany(statement, rows)
        for statement, sums in self.sums.items():
            self.db.executemany(statement, [(*key, *total) for key, total in sums.items()])
        self.db.executemany(
            "INSERT OR REPLACE INTO job_results (job_id, doc) VALUES (?, ?)",
            [(job_id, doc) for job_id, doc in self.results.items() if doc is not None],
        )
        self.db.executemany(
            "DELETE FROM job_results WHERE job_id = ?",
            [(job_id,) for job_id, doc in self.results.items() if doc is None],
        )
        self.db.executemany(
            "INSERT INTO usage (user_id, stored_bytes) VALUES (?, ?) ON CONFLICT (user_id)"
            " DO UPDATE SET stored_bytes = stored_bytes + excluded.stored_bytes",
            list(self.usage.items()),
        )


def id_text(object_id: Any) -> str:
    """`str(object_id)`, remembered for UUIDs: a job's id is written by each of its events, and
    formatting a UUID costs as much as the rest of what an event changes."""
    if type(object_id) is not UUID:
        return str(object_id)
    number = object_id.int  # hashed in C, unlike the UUID itself
    text = _ID_TEXTS.get(number)
    if text is None:
        if len(_ID_TEXTS) >= 1 << 14:
            _ID_TEXTS.clear()
        text = _ID_TEXTS[number] = str(object_id)
    return text


_ID_TEXTS: dict[int, str] = {}


def timestamp_text(event: Any) -> str:
    """The event's timestamp as ISO text, remembered for the event at hand: several views write
    it (formatting a timestamp costs as much as the rest of what a job's status change does)."""
    global _last
    timestamp = event.timestamp
    last = _last  # one tuple, replaced whole: projectors in other threads see a matching pair
    if last[0] is not timestamp:
        last = _last = (timestamp, iso_text(timestamp))
    return last[1]


_last: tuple[Any, str] = (None, "")


def json_value(value: Any) -> Any:
    """`value`, once shown to be writable as JSON. For a field a later event may overwrite: the
    document is only written at the end of the batch, and an unwritable value must fail its own
    event (as it would applied alone), not vanish under the next one."""
    if value is None or type(value) in SCALARS:
        return value  # always writable (and common: most costs and errors are None)
    json_text(value)
    return value


SCALARS = frozenset({str, int, float, bool})


def sql_value(value: Any) -> Any:
    """`value`, once shown to be a value SQLite stores (see `json_value` for why)."""
    if value is not None and not isinstance(value, SQL_TYPES):
        raise TypeError(f"type {type(value).__name__!r} is not supported")
    return value


SQL_TYPES = (str, bytes, int, float)
