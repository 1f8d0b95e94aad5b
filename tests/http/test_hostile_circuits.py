"""One user must never break, bloat or starve qorch (issue 11): circuits built to blow up the
parser get a fast 4xx naming the field and the limit, record nothing, and leave the API
process's memory where it was."""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from qiskit import QuantumCircuit, qpy
from starlette.testclient import TestClient

from qorch.adapters import circuit_sandbox
from qorch.adapters.circuit_facts import configure_parsing
from qorch.adapters.circuit_sandbox import SandboxConfig
from qorch.bootstrap import limits_from
from qorch.http.app import create_app
from tests.adapters.test_circuit_limits import BOMBS
from tests.conftest import BELL_QASM2, Account, new_account, settings_for


def log_position(account: Account) -> int:
    app = account.client.app.state.service.app  # type: ignore[attr-defined]
    return app.recorder.max_notification_id() or 0


def recorded_by(account: Account, after: int) -> list[str]:
    app = account.client.app.state.service.app  # type: ignore[attr-defined]
    notifications = app.recorder.select_notifications(
        start=after, limit=10_000, inclusive_of_start=False
    )
    events = [app.mapper.to_domain_event(n) for n in notifications]
    return [
        type(e).__qualname__ for e in events if str(getattr(e, "user_id", "")) == account.user_id
    ]


def assert_nothing_recorded(account: Account, before: int) -> None:
    assert recorded_by(account, before) == []
    assert account.get("/jobs").json()["jobs"] == []
    assert account.get(f"/experiments/{account.experiment_id}/circuits").json()["circuits"] == []


def submit(account: Account, **body: Any) -> Any:
    return account.post(
        "/ai/run_circuits_on_qpu_or_simulator", {"experiment_id": account.experiment_id, **body}
    )


@pytest.mark.parametrize(("source", "limit"), BOMBS.values(), ids=BOMBS.keys())
def test_circuit_bomb_gets_a_fast_422_and_records_nothing(
    alice: Account, source: str, limit: str
) -> None:
    before = log_position(alice)
    started = time.monotonic()
    answer = submit(alice, circuits_qasm=[source])
    assert time.monotonic() - started < 5.0
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == "circuits_qasm[0]"
    assert limit in error["message"]
    assert_nothing_recorded(alice, before)


def test_circuit_bomb_for_analytics_gets_a_fast_422(alice: Account) -> None:
    source, limit = BOMBS["18 nested gates, QASM 3"]
    before = log_position(alice)
    started = time.monotonic()
    answer = alice.post(
        "/ai/submit_circuit_for_analytics",
        {"experiment_id": alice.experiment_id, "circuit_qasm": source},
    )
    assert time.monotonic() - started < 5.0
    assert 400 <= answer.status_code < 500, answer.text
    assert limit in answer.text
    assert_nothing_recorded(alice, before)


def test_observable_of_20000_terms_gets_a_fast_422(alice: Account) -> None:
    labels = [format(i, "015b").replace("0", "I").replace("1", "Z") for i in range(20_000)]
    circuit = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[15]; h q;'
    before = log_position(alice)
    started = time.monotonic()
    answer = submit(alice, circuits_qasm=[circuit], observables=[[labels, [1.0] * len(labels)]])
    assert time.monotonic() - started < 5.0
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == "observables[0][0]"
    assert "QORCH_MAX_PAULI_TERMS" in error["message"]
    assert_nothing_recorded(alice, before)


def test_qpy_upload_over_the_limits_gets_a_fast_422(alice: Account) -> None:
    wide = QuantumCircuit(5000)
    wide.h(0)
    buffer = io.BytesIO()
    qpy.dump(wide, buffer)
    before = log_position(alice)
    started = time.monotonic()
    answer = alice.post(
        "/circuits",
        {
            "experiment_id": alice.experiment_id,
            "qpy_dump": base64.b64encode(buffer.getvalue()).decode(),
            "hash": "wide",
        },
    )
    assert time.monotonic() - started < 5.0
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "qpy_dump"
    assert "QORCH_MAX_QUBITS" in answer.text
    assert_nothing_recorded(alice, before)


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_bombs_leave_the_api_process_memory_where_it_was(alice: Account) -> None:
    """The API runs in this process (TestClient): parsing a bomb here grew it by 2-4.6 GB."""
    bell = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; h q; measure q -> c;'
    assert submit(alice, circuits_qasm=[bell], dry_run=True).status_code == 201
    idle = resident_mb()
    for round_ in range(3):
        for source, limit in BOMBS.values():
            fresh = f"{source}\n// {uuid.uuid4()} {round_}\n"  # a new text: no cache hits
            answer = submit(alice, circuits_qasm=[fresh])
            assert answer.status_code == 422, answer.text
            assert limit in answer.json()["error"]["message"]
    grown = resident_mb() - idle
    assert grown < 100, f"the API process grew by {grown:.0f} MB"


def slow_to_parse(definitions: int) -> str:
    """Within every size limit, but seconds of parsing (each definition is built)."""
    gates = "".join(f"gate g{i} a {{ x a; }}\n" for i in range(definitions))
    return f'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\n{gates}g0 q[0];\n'


def test_a_flood_of_slow_circuits_from_one_user_does_not_stall_another(tmp_path: Path):
    """Mallory sends 30 circuits at once that each take the parser's whole time bound: she holds
    one parser (with a few more waiting for it), the rest are refused with 429 at once, and
    Bob's reads and his own circuit go through meanwhile."""
    settings = settings_for(tmp_path).with_overrides(
        run_worker=False, parser=SandboxConfig(workers=2, timeout=1.0)
    )
    with TestClient(create_app(settings)) as client:
        mallory, bob = new_account(client), new_account(client)
        sources = [slow_to_parse(15_000 + i) for i in range(30)]  # distinct: no cache hits
        with ThreadPoolExecutor(2) as warm:  # both parser processes started, as in service
            list(warm.map(lambda _: circuit_sandbox.pool().call(time.sleep, 0.5), range(2)))

        def analyse(source: str) -> int:
            body = {"experiment_id": mallory.experiment_id, "circuit_qasm": source}
            return mallory.post("/ai/submit_circuit_for_analytics", body).status_code

        with ThreadPoolExecutor(30) as pool:
            flood = [pool.submit(analyse, source) for source in sources]
            time.sleep(1.0)
            started = time.monotonic()
            assert bob.get("/jobs").status_code == 200
            body = {"experiment_id": bob.experiment_id, "circuit_qasm": BELL_QASM2}
            assert bob.post("/ai/submit_circuit_for_analytics", body).status_code == 200
            bob_took = time.monotonic() - started
            statuses = Counter(answer.result() for answer in flood)
    configure_parsing(limits_from(settings_for(tmp_path)), SandboxConfig())  # the process-wide pool
    print(f"\nBob served in {bob_took:.2f} s during Mallory's flood; Mallory got {dict(statuses)}")
    assert bob_took < 1.5, bob_took
    waiting = circuit_sandbox.WAITING_PER_OWNER
    assert statuses[429] >= 30 - 1 - waiting, statuses  # refused at once, holding no thread
    assert set(statuses) <= {422, 429}, statuses  # the rest stopped at the time bound
