"""Shared fixtures: a real qorch app (SQLite store, real executor with worker processes)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from qorch.http.app import create_app
from qorch.settings import Settings

BELL_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

BELL_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""

RY_MEASURED = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[1] q;
bit[1] c;
ry(theta) q[0];
c[0] = measure q[0];
"""
"""P(1) = sin^2(theta / 2)."""


GHZ3_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""

RY_CX = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
ry(theta) q[0];
cx q[0], q[1];
"""
"""One parameter; no measurements (for observables)."""

RY_RX = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] phi;
input float[64] alpha;
qubit[2] q;
bit[2] c;
ry(phi) q[1];
rx(alpha) q[0];
cx q[1], q[0];
t q[0];
c = measure q;
"""
"""Two parameters declared phi before alpha: binding follows the sorted order (alpha, phi)."""


def settings_for(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        poll_interval=0.05,
        lease_seconds=5.0,
        worker_concurrency=2,
        statevector_max_qubits=12,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One running qorch (API + projector + executor) shared by the HTTP tests."""
    settings = settings_for(tmp_path_factory.mktemp("qorch-data"))
    with TestClient(create_app(settings)) as client:
        yield client


@dataclass
class Account:
    client: TestClient
    user_id: str
    key: str
    experiment_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.key}

    def post(self, path: str, json: object) -> Any:
        return self.client.post(path, json=json, headers=self.headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers)

    def run(self, **body: object) -> dict:
        answer = self.client.post(
            "/ai/run_circuits_on_qpu_or_simulator",
            json={"experiment_id": self.experiment_id, **body},
            headers=self.headers,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["job"]

    def wait_for(self, job_id: str, seconds: float = 60) -> dict:
        answer = self.client.get(f"/jobs/{job_id}", params={"wait": seconds}, headers=self.headers)
        assert answer.status_code == 200, answer.text
        job = answer.json()
        assert job["status"] in ("Done", "Error", "Cancelled"), job
        return job


def new_account(client: TestClient) -> Account:
    service = client.app.state.service  # type: ignore[attr-defined]
    user_id, key = service.app.register_user(f"user-{uuid.uuid4().hex[:6]}")
    answer = client.post("/experiments", json={"name": "tests"}, headers={"Authorization": key})
    assert answer.status_code == 201, answer.text
    return Account(client, str(user_id), key, answer.json()["id"])


@pytest.fixture
def alice(server: TestClient) -> Account:
    return new_account(server)


@pytest.fixture
def bob(server: TestClient) -> Account:
    return new_account(server)


def postgres_or_skip(url: str) -> Any:
    """An autocommit connection to PostgreSQL; skips the test when none is reachable, except
    under CI=true, where PostgreSQL tests must run."""
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL reachable at {url}: {error}")
