"""Where events are kept: SQLite in the data directory by default, PostgreSQL by configuration.

On PostgreSQL the tables are created once, by `qorch db init`: the eventsourcing library's
CREATE TABLE statements are not safe to run from several processes at once (PostgreSQL answers
"tuple concurrently updated"), so every other process opens the store with table creation off
and, when the tables are missing, stops with a message that says to run `qorch db init`. SQLite
is a file owned by one host, so it keeps creating its tables on first use.

SQLite runs in WAL mode with `synchronous=FULL`: every commit is fsynced before its caller goes
on, so an accepted job survives a power cut, not only a process crash. A commit at NORMAL costs
0.03 ms here against 0.46 ms at FULL (ext4 on a virtual disk, idle; 3-5 ms when other processes
load the disk), but no transaction is committed at NORMAL, lease events (`Claimed`,
`LeaseRenewed`) included: a commit that a power cut takes away gives its log positions to the
next events, while the views (their own file) and `Last-Event-ID` clients may already hold them
(README, Design: Event store). Group commit shares the fsyncs of concurrent saves instead.

The event store's reads (an aggregate's events, a page of the log, the last position) are single
SELECTs; each thread runs them on a read-only connection of its own, without the library's
BEGIN/ROLLBACK and pool checkout (71 µs a read against 13 µs for the SELECT alone). In WAL mode
one statement reads one committed snapshot, and a connection that never writes never sees a
transaction half-committed by another.
"""

from __future__ import annotations

import contextlib
import copy
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    JSONTranscoder,
    Notification,
    StoredEvent,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)

from qorch.domain.errors import RequestError


class StoreSettings(Protocol):
    """Where the event store is (qorch.settings.Settings is one)."""

    @property
    def database_url(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def events_path(self) -> Path: ...


class DurableSQLiteConnectionPool(SQLiteConnectionPool):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._readers = threading.local()
        self._open_readers: weakref.WeakSet[SQLiteConnection] = weakref.WeakSet()
        self._readers_lock = threading.Lock()

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        if not self.is_sqlite_memory_mode:
            connection._sqlite_conn.execute("PRAGMA synchronous=FULL;")
        return connection

    def reader(self) -> SQLiteConnection:
        """This thread's read-only connection: never lent by the pool, so no writer holds it
        (it closes when its thread ends, or with the pool)."""
        connection: SQLiteConnection | None = getattr(self._readers, "connection", None)
        if connection is None or connection.closed:
            with self._readers_lock:
                if self.closed:
                    raise ConnectionPoolClosedError
                connection = self._create_connection()
                connection._sqlite_conn.execute("PRAGMA query_only=ON;")
                # One per thread (anyio lends up to 40): a small page cache each, 1 MiB.
                connection._sqlite_conn.execute("PRAGMA cache_size=-1024;")
                self._open_readers.add(connection)
            self._readers.connection = connection
        return connection

    def close(self) -> None:
        super().close()
        with self._readers_lock:
            for connection in list(self._open_readers):
                connection.close()


class SingleStatementReads(SQLiteDatastore):
    """A datastore for recorder methods that read with one statement: it runs it on the
    thread's reader, outside any explicit transaction."""

    def __init__(self, datastore: SQLiteDatastore) -> None:  # shares the store's pool
        self.pool: DurableSQLiteConnectionPool = datastore.pool  # type: ignore[assignment]
        self.single_row_tracking = datastore.single_row_tracking
        self.originator_id_type = datastore.originator_id_type

    @contextlib.contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        if commit:
            raise TypeError("SingleStatementReads only reads")
        connection = self.pool.reader()
        cursor = connection.cursor()
        try:
            with cursor:  # closing it ends the statement's read
                yield cursor
        except sqlite3.Error as error:  # the library's mapping to its persistence errors
            SQLiteTransaction(connection).__exit__(type(error), error, error.__traceback__)

    def close(self) -> None:
        """The pool is the event store's datastore's to close."""


class SQLiteEventStore(SQLiteApplicationRecorder):
    """The library's recorder, its single-statement reads made through SingleStatementReads."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self._reads = self
        if isinstance(datastore.pool, DurableSQLiteConnectionPool) and not (
            datastore.pool.is_sqlite_memory_mode  # reads and writes share one connection there
        ):
            self._reads = copy.copy(self)
            self._reads.datastore = SingleStatementReads(datastore)

    def select_events(self, originator_id: UUID | str, **bounds: Any) -> Sequence[StoredEvent]:
        return super(SQLiteEventStore, self._reads).select_events(originator_id, **bounds)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return super(SQLiteEventStore, self._reads).select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )

    def max_notification_id(self) -> int:
        return super(SQLiteEventStore, self._reads).max_notification_id()


class DurableSQLiteFactory(SQLiteFactory):
    application_recorder_class = SQLiteEventStore

    def __init__(self, env):  # type: ignore[no-untyped-def]
        super().__init__(env)
        old_pool = self.datastore.pool
        self.datastore.pool = DurableSQLiteConnectionPool(
            db_name=old_pool.db_name, lock_timeout=old_pool.lock_timeout
        )
        old_pool.close()


class MisreadableValue(RequestError):
    """A value about to be recorded that the store would read back as something else."""


class GuardedJSONTranscoder(JSONTranscoder):
    """The library's JSON transcoder reads back any object shaped `{"_type_": ..., "_data_": ...}`
    as one of its type tags: a user's value of that shape would poison the log (every reader of
    the event fails). The domain records free-form JSON as opaque text; this refuses, before
    anything is written, any value that slipped past that rule."""

    def encode(self, obj: Any) -> bytes:
        _refuse_type_tags(obj)
        return super().encode(obj)


def _refuse_type_tags(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "_type_" in item and "_data_" in item:
                raise MisreadableValue(
                    "", "an object with both '_type_' and '_data_' keys cannot be recorded"
                )
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


TRANSCODER_TOPIC = f"{__name__}:GuardedJSONTranscoder"


class TablesMissing(RuntimeError):
    """The PostgreSQL store has no tables yet: `qorch db init` creates them."""


def is_postgres(settings: StoreSettings) -> bool:
    return urlparse(settings.database_url).scheme in ("postgres", "postgresql")


def event_store_env(settings: StoreSettings, *, create_tables: bool = False) -> dict[str, str]:
    """The eventsourcing environment for the configured store (never the in-memory default).

    SQLite always creates its tables; PostgreSQL only when `create_tables` (`qorch db init`).
    """
    url = settings.database_url
    if not url or url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///") if url else str(settings.events_path)
        return {
            "PERSISTENCE_MODULE": f"{__name__}:DurableSQLiteFactory",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "TRANSCODER_TOPIC": TRANSCODER_TOPIC,
        }
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"QORCH_DATABASE_URL: unsupported scheme {parsed.scheme!r}")
    schema = parse_qs(parsed.query).get("schema", [""])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_DBNAME": parsed.path.lstrip("/") or "qorch",
        "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": unquote(parsed.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parsed.password or ""),
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "10",
        "CREATE_TABLE": "y" if create_tables else "n",
        "TRANSCODER_TOPIC": TRANSCODER_TOPIC,
    }


def postgres_conninfo(settings: StoreSettings) -> tuple[str, str]:
    """A libpq connection string for the configured PostgreSQL URL, and its schema ("" = public)."""
    env = event_store_env(settings)
    conninfo = (
        f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} dbname={env['POSTGRES_DBNAME']}"
        f" user={env['POSTGRES_USER']}"
    )
    if env["POSTGRES_PASSWORD"]:
        conninfo += f" password={env['POSTGRES_PASSWORD']}"
    return conninfo, env["POSTGRES_SCHEMA"]


@contextlib.contextmanager
def init_lock(settings: StoreSettings) -> Iterator[None]:
    """Serialises `qorch db init` runs on one PostgreSQL database (an advisory lock)."""
    import psycopg
    from psycopg import sql

    conninfo, schema = postgres_conninfo(settings)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as connection:
        connection.execute("SELECT pg_advisory_lock(hashtext('qorch db init'))")
        try:
            if schema:
                connection.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(hashtext('qorch db init'))")


def check_tables(app: Application) -> None:
    """Raises TablesMissing when the store's tables do not exist (PostgreSQL before db init)."""
    try:
        from eventsourcing.postgres import PostgresApplicationRecorder
    except ImportError:  # psycopg is not installed: the store cannot be PostgreSQL
        return
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        return
    datastore = recorder.datastore
    schema = datastore.schema
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (schema, recorder.events_table_name),
        )
        found = cursor.fetchone() is not None
    if not found:
        raise TablesMissing(
            f"the event store has no tables in PostgreSQL schema {schema!r}: "
            "run `qorch db init` once (with the same QORCH_DATABASE_URL) before starting "
            "servers and workers"
        )
    datastore.register_type_adapters()  # what create_table would have done
