"""The event store: durable SQLite by default, PostgreSQL by configuration, never in-memory."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qorch.adapters.store import TablesMissing, check_tables, event_store_env
from qorch.bootstrap import init_event_store, open_application
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
from qorch.domain.job import JobStatus
from qorch.domain.requests import RunRequest
from qorch.settings import Settings
from tests.conftest import BELL_QASM3, postgres_or_skip

POSTGRES_URL = os.environ.get(
    "QORCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def test_default_store_is_a_durable_sqlite_file_in_the_data_dir(tmp_path: Path):
    env = event_store_env(Settings(data_dir=tmp_path))
    assert env["SQLITE_DBNAME"] == str(tmp_path / "events.sqlite")
    app = open_application(Settings(data_dir=tmp_path))
    try:
        app.register_user("ada")
        connection = app.factory.datastore.pool.get_connection()  # type: ignore[attr-defined]
        raw = connection._sqlite_conn
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        app.factory.datastore.pool.put_connection(connection)  # type: ignore[attr-defined]
    finally:
        app.close()
    assert (tmp_path / "events.sqlite").exists()


def test_an_unknown_database_scheme_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unsupported scheme"):
        event_store_env(Settings(data_dir=tmp_path, database_url="mysql://x/y"))


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    connection = postgres_or_skip(POSTGRES_URL)
    schema = f"qorch_test_{uuid.uuid4().hex[:8]}"
    connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")
        connection.close()


def test_sqlite_creates_its_tables_but_postgresql_waits_for_db_init(tmp_path: Path):
    assert "CREATE_TABLE" not in event_store_env(Settings(data_dir=tmp_path))
    pg = Settings(data_dir=tmp_path, database_url=f"{POSTGRES_URL}?schema=s")
    assert event_store_env(pg)["CREATE_TABLE"] == "n"
    assert event_store_env(pg, create_tables=True)["CREATE_TABLE"] == "y"


def test_missing_postgresql_tables_say_to_run_db_init(tmp_path: Path, postgres_schema: str):
    settings = Settings(data_dir=tmp_path, database_url=f"{POSTGRES_URL}?schema={postgres_schema}")
    app = open_application(settings)
    try:
        with pytest.raises(TablesMissing, match="qorch db init"):
            check_tables(app)
    finally:
        app.close()
    init_event_store(settings)
    app = open_application(settings)
    try:
        check_tables(app)
    finally:
        app.close()


def test_concurrent_db_inits_all_succeed(tmp_path: Path, postgres_schema: str):
    settings = Settings(data_dir=tmp_path, database_url=f"{POSTGRES_URL}?schema={postgres_schema}")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: init_event_store(settings), range(4)))


def test_a_job_lifecycle_on_postgresql(tmp_path: Path, postgres_schema: str):
    settings = Settings(data_dir=tmp_path, database_url=f"{POSTGRES_URL}?schema={postgres_schema}")
    init_event_store(settings)
    app = open_application(settings)
    try:
        user_id, key = app.register_user("ada")
        assert app.authenticate(key) is not None
        experiment = app.create_experiment(user_id, "pg")
        recorded = app.submit_job(
            user_id, RunRequest(experiment_id=str(experiment.id), circuits_qasm=[BELL_QASM3])
        )
        claim = app.claim_job(recorded.id, "w1", time.time(), False, 30)
        assert claim is not None
        assert app.claim_job(recorded.id, "w2", time.time(), False, 30) is None
        outcome = ExecutionOutcome(
            [CircuitOutcome(distributions=[{"00": 1.0}], counts=[{"00": 9}])]
        )
        assert app.record_results(recorded.id, "w1", outcome)
        assert app.repository.get(recorded.id).status is JobStatus.DONE
        assert app.recorder.max_notification_id() == recorded.position + 2
    finally:
        app.close()
