"""qorch's own tables beside the event store: the events file on SQLite, the store's schema on
PostgreSQL, written through the recorder's own connections, so that they are backed up, restored
and deleted with the log they describe, and every process sharing a log finds them.

Statements are written once for both stores: `?` placeholders, table names as `{key}` (quoted
with the PostgreSQL schema there) and `{bytes}` for a raw-bytes column type. The executor's
checkpoint, the workers' advertisements and the webhook deliverer's tables live here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import Recorder

Statement = tuple[str, tuple[Any, ...]]


class SideTables:
    def __init__(
        self, datastore: Any, postgres: bool, tables: Mapping[str, str], schema: Sequence[str]
    ) -> None:
        self.datastore = datastore
        self.postgres = postgres
        prefix = getattr(datastore, "schema", "") if postgres else ""
        self.names = {key: f'"{prefix}".{name}' if prefix else name for key, name in tables.items()}
        self.names["bytes"] = "BYTEA" if postgres else "BLOB"
        self.schema = tuple(schema)
        self.lock_name = next(iter(tables.values()))
        self.created = False

    def sql(self, text: str) -> str:
        text = text.format(**self.names)
        return text.replace("?", "%s") if self.postgres else text

    def run(self, statements: Sequence[Statement]) -> None:
        """The statements in one transaction."""
        self.create()
        with self.datastore.transaction(commit=True) as cursor:
            for text, params in statements:
                cursor.execute(self.sql(text), params)

    def query(self, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.create()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.sql(text), params)
            rows = cursor.fetchall()
        return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]

    def create(self) -> None:
        if self.created:
            return
        with self.datastore.transaction(commit=True) as cursor:
            if self.postgres:  # concurrent CREATEs can fail ("tuple concurrently updated")
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.lock_name,))
            for text in self.schema:
                cursor.execute(self.sql(text))
        self.created = True


def side_tables_for(
    recorder: Recorder,
    tables: Mapping[str, str],
    schema: Sequence[str],
    *,
    ordered_ids: bool = False,
) -> SideTables | None:
    """The tables in this event store; None for a store that keeps none (in memory). With
    `ordered_ids`, also None where PostgreSQL inserts through database functions, which do not
    lock the events table, so ids may become visible out of order."""
    from eventsourcing.sqlite import SQLiteRecorder

    if isinstance(recorder, SQLiteRecorder):
        return SideTables(recorder.datastore, False, tables, schema)
    try:
        from eventsourcing.postgres import PostgresRecorder
    except ImportError:  # psycopg is not installed: the store cannot be PostgreSQL
        return None
    if isinstance(recorder, PostgresRecorder):
        if ordered_ids and recorder.datastore.enable_db_functions:
            return None
        return SideTables(recorder.datastore, True, tables, schema)
    return None
