"""Credentials held for a running job: sealed at rest, bound to their job, gone when it ends."""

from __future__ import annotations

import uuid
from pathlib import Path

from qorch.adapters.vault import CredentialVault
from qorch.settings import Settings
from tests.adapters.test_store import POSTGRES_URL
from tests.conftest import postgres_or_skip

TOKEN = "ionq-SECRET-0123456789abcdef"


def files_contain(folder: Path, needle: str) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_held_credentials_are_sealed_on_disk_and_opened_for_their_job(tmp_path: Path):
    vault = CredentialVault(Settings(data_dir=tmp_path))
    job_id = uuid.uuid4()
    vault.hold(job_id, {"ionq_api_key": TOKEN})

    assert vault.open(job_id) == {"ionq_api_key": TOKEN}
    assert files_contain(tmp_path, TOKEN) == []
    assert files_contain(tmp_path, "ionq_api_key") == []  # even the names are sealed


def test_a_restarted_process_opens_them_with_the_key_file(tmp_path: Path):
    job_id = uuid.uuid4()
    CredentialVault(Settings(data_dir=tmp_path)).hold(job_id, {"ionq_api_key": TOKEN})
    assert CredentialVault(Settings(data_dir=tmp_path)).open(job_id) == {"ionq_api_key": TOKEN}
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_another_key_cannot_open_them(tmp_path: Path):
    job_id = uuid.uuid4()
    CredentialVault(Settings(data_dir=tmp_path, secret_key="one")).hold(job_id, {"k": TOKEN})
    assert CredentialVault(Settings(data_dir=tmp_path, secret_key="two")).open(job_id) is None


def test_a_sealed_value_moved_to_another_job_does_not_open(tmp_path: Path):
    vault = CredentialVault(Settings(data_dir=tmp_path))
    first, second = uuid.uuid4(), uuid.uuid4()
    vault.hold(first, {"ionq_api_key": TOKEN})
    table = vault._table
    table.put(str(second), table.get(str(first)))  # type: ignore[arg-type]
    assert vault.open(second) is None


def test_destroyed_credentials_are_gone_for_good(tmp_path: Path):
    vault = CredentialVault(Settings(data_dir=tmp_path))
    kept, ended = uuid.uuid4(), uuid.uuid4()
    vault.hold(kept, {"ionq_api_key": "a-" + TOKEN})
    vault.hold(ended, {"ionq_api_key": TOKEN})
    vault.destroy_all([ended])
    assert vault.open(ended) is None
    assert vault.held_jobs() == [str(kept)]


def test_on_postgresql_every_machine_with_the_shared_key_opens_them(tmp_path: Path):
    url = POSTGRES_URL
    postgres_or_skip(url).close()
    schema = f"vault_{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path / "a", database_url=f"{url}?schema={schema}", secret_key="shared"
    )
    from qorch.adapters.store import init_lock

    with init_lock(settings):
        pass  # creates the schema
    job_id = uuid.uuid4()
    CredentialVault(settings).hold(job_id, {"ionq_api_key": TOKEN})
    other_machine = Settings(
        data_dir=tmp_path / "b", database_url=settings.database_url, secret_key="shared"
    )
    assert CredentialVault(other_machine).open(job_id) == {"ionq_api_key": TOKEN}
    CredentialVault(other_machine).destroy(job_id)
    assert CredentialVault(settings).open(job_id) is None


def test_the_sweep_spares_credentials_held_again_since_it_looked(tmp_path: Path):
    vault = CredentialVault(Settings(data_dir=tmp_path))
    ended, restarted = uuid.uuid4(), uuid.uuid4()
    vault.hold(ended, {"k": TOKEN})
    vault.hold(restarted, {"k": TOKEN})
    seen = vault.held_among([ended, restarted, uuid.uuid4()])
    assert set(seen) == {ended, restarted}
    vault.hold(restarted, {"k": "new-" + TOKEN})  # a restart holds fresh credentials
    vault.destroy_if_unchanged(seen)
    assert vault.open(ended) is None
    assert vault.open(restarted) == {"k": "new-" + TOKEN}
