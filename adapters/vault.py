"""Holds provider credentials while their job needs them: encrypted, outside the event log.

The log is forever (it is the audit trail and is replayed), so credentials never enter it: a job
records only which credential names were supplied. The values are sealed with AES-256-GCM (the
job id is the associated data, so a sealed value cannot be moved to another job) and kept in a
table of their own: a SQLite file in the data directory, or a table beside the event store on
PostgreSQL, so that a worker on another machine, or this one after a restart, can still run the
job. The row is deleted when the job ends; then nothing can recover the values.

The key comes from QORCH_SECRET_KEY; without it a random key is created once in the data
directory (file mode 0600). Several machines sharing a PostgreSQL store must share the key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from qorch.adapters.store import StoreSettings, is_postgres, postgres_conninfo

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("qorch.vault")

KEY_FILE = "secret.key"
TABLE = "qorch_held_credentials"


class VaultSettings(StoreSettings, Protocol):
    @property
    def secret_key(self) -> str: ...


def load_key(settings: VaultSettings) -> bytes:
    """32 bytes: QORCH_SECRET_KEY (any text, hashed), else the data directory's key file."""
    if settings.secret_key:
        return hashlib.sha256(settings.secret_key.encode()).digest()
    path = settings.data_dir / KEY_FILE
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return base64.b64decode(path.read_bytes().strip())
    with os.fdopen(descriptor, "wb") as file:
        key = os.urandom(32)
        file.write(base64.b64encode(key))
    if is_postgres(settings):
        log.warning(
            "QORCH_SECRET_KEY is not set: credentials are sealed with a key kept in %s; other "
            "machines sharing this PostgreSQL store cannot open them (set QORCH_SECRET_KEY)",
            path,
        )
    return key


class CredentialVault:
    def __init__(self, settings: VaultSettings) -> None:
        self._settings = settings
        self._table = _PostgresTable(settings) if is_postgres(settings) else _SQLiteTable(settings)

    @cached_property
    def _cipher(self) -> AESGCM:
        # The key is read (or created) on first use: processes that never hold credentials
        # (`qorch db init`, replay) leave no key file behind.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(load_key(self._settings))

    def hold(self, job_id: UUID, credentials: dict[str, str]) -> None:
        nonce = os.urandom(12)
        sealed = self._cipher.encrypt(nonce, json.dumps(credentials).encode(), str(job_id).encode())
        self._table.put(str(job_id), nonce + sealed)

    def open(self, job_id: UUID) -> dict[str, str] | None:
        """The job's credentials; None when none are held or they cannot be opened here."""
        from cryptography.exceptions import InvalidTag

        sealed = self._table.get(str(job_id))
        if sealed is None:
            return None
        try:
            plain = self._cipher.decrypt(sealed[:12], sealed[12:], str(job_id).encode())
        except InvalidTag:
            log.error("job %s: held credentials were sealed with another key", job_id)
            return None
        credentials: dict[str, str] = json.loads(plain)
        return credentials

    def destroy(self, job_id: UUID) -> None:
        self._table.delete([str(job_id)])

    def destroy_all(self, job_ids: Iterable[UUID]) -> None:
        ids = [str(job_id) for job_id in job_ids]
        if ids:
            self._table.delete(ids)

    def held_jobs(self) -> list[str]:
        return self._table.ids()

    def held_among(self, job_ids: Iterable[UUID]) -> dict[UUID, float]:
        """Of these jobs, those with credentials held, and when each was held."""
        found = self._table.held_at([str(job_id) for job_id in job_ids])
        return {UUID(job_id): held_at for job_id, held_at in found.items()}

    def destroy_if_unchanged(self, held: dict[UUID, float]) -> None:
        """Destroys these jobs' credentials unless they were held anew since `held` was read
        (a job restarted meanwhile keeps its new credentials)."""
        if held:
            self._table.delete_unchanged([(str(job_id), at) for job_id, at in held.items()])


class _SQLiteTable:
    def __init__(self, settings: VaultSettings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.path: Path = settings.data_dir / "credentials.sqlite"
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(job_id TEXT PRIMARY KEY, sealed BLOB NOT NULL, held_at REAL NOT NULL)"
            )
        os.chmod(self.path, 0o600)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                db.execute("PRAGMA secure_delete=ON")  # deleted values are overwritten on disk
                with db:
                    yield db
            finally:
                db.close()

    def put(self, job_id: str, sealed: bytes) -> None:
        with self._connect() as db:
            db.execute(
                f"INSERT OR REPLACE INTO {TABLE} (job_id, sealed, held_at) VALUES (?, ?, ?)",
                (job_id, sealed, time.time()),
            )

    def get(self, job_id: str) -> bytes | None:
        with self._connect() as db:
            row = db.execute(f"SELECT sealed FROM {TABLE} WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, job_ids: list[str]) -> None:
        with self._connect() as db:
            db.executemany(f"DELETE FROM {TABLE} WHERE job_id = ?", [(i,) for i in job_ids])

    def ids(self) -> list[str]:
        with self._connect() as db:
            return [row[0] for row in db.execute(f"SELECT job_id FROM {TABLE}")]

    def held_at(self, job_ids: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        with self._connect() as db:
            for start in range(0, len(job_ids), 500):
                chunk = job_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT job_id, held_at FROM {TABLE} WHERE job_id IN ({marks})", chunk
                )
                found.update({row[0]: row[1] for row in rows})
        return found

    def delete_unchanged(self, rows: list[tuple[str, float]]) -> None:
        with self._connect() as db:
            db.executemany(f"DELETE FROM {TABLE} WHERE job_id = ? AND held_at = ?", rows)


class _PostgresTable:
    def __init__(self, settings: VaultSettings) -> None:
        self.conninfo, schema = postgres_conninfo(settings)
        self.table = f'"{schema}".{TABLE}' if schema else TABLE
        with self._connect() as db, contextlib.suppress(Exception):
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} "
                "(job_id TEXT PRIMARY KEY, sealed BYTEA NOT NULL, held_at DOUBLE PRECISION)"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10) as db:
            yield db

    def put(self, job_id: str, sealed: bytes) -> None:
        with self._connect() as db:
            db.execute(
                f"INSERT INTO {self.table} (job_id, sealed, held_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (job_id) DO UPDATE SET sealed = EXCLUDED.sealed, "
                "held_at = EXCLUDED.held_at",
                (job_id, sealed, time.time()),
            )

    def get(self, job_id: str) -> bytes | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT sealed FROM {self.table} WHERE job_id = %s", (job_id,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, job_ids: list[str]) -> None:
        with self._connect() as db:
            db.execute(f"DELETE FROM {self.table} WHERE job_id = ANY(%s)", (job_ids,))

    def ids(self) -> list[str]:
        with self._connect() as db:
            rows = db.execute(f"SELECT job_id FROM {self.table}").fetchall()
        return [row[0] for row in rows]

    def held_at(self, job_ids: list[str]) -> dict[str, float]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT job_id, held_at FROM {self.table} WHERE job_id = ANY(%s)", (job_ids,)
            ).fetchall()
        return {row[0]: row[1] for row in rows}

    def delete_unchanged(self, rows: list[tuple[str, float]]) -> None:
        with self._connect() as db, db.cursor() as cursor:
            cursor.executemany(f"DELETE FROM {self.table} WHERE job_id = %s AND held_at = %s", rows)
