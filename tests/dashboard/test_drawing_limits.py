"""Circuit pages draw a circuit only below a size limit (a plain notice above it, at once), and
a drawing is made off the event loop within a time bound: one user's huge circuit never makes
the page, or anyone else's requests, wait."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from qorch.http.app import create_app
from qorch.settings import settings_from_env
from tests.conftest import BELL_QASM2, Account, new_account, settings_for


def wide_circuit(qubits: int, gates: int) -> str:
    chooser = random.Random(7)
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{qubits}];"]
    for index in range(gates):
        a = chooser.randrange(qubits)
        b = (a + 1 + chooser.randrange(qubits - 1)) % qubits
        lines.append(f"cx q[{a}],q[{b}];" if index % 2 else f"h q[{a}];")
    return "\n".join(lines) + "\n"


def browser(account: Account) -> TestClient:
    client = TestClient(account.client.app)
    answer = client.post("/dashboard/sign-in", data={"api_key": account.key})
    assert answer.status_code == 200, answer.text
    return client


def stored(account: Account, qasm: str) -> str:
    answer = account.post(
        "/ai/submit_circuit_for_analytics",
        {"experiment_id": account.experiment_id, "circuit_qasm": qasm},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["circuit"]["id"]


def drawing_of(page: str) -> str:
    start = page.index('id="circuit-drawing">') + len('id="circuit-drawing">')
    return page[start : page.index("</pre>", start)]


def test_a_small_circuit_is_still_drawn(alice: Account):
    circuit_id = stored(alice, BELL_QASM2)
    drawn = drawing_of(browser(alice).get(f"/dashboard/circuits/{circuit_id}").text)
    assert "┤ H ├" in drawn


def test_a_circuit_above_the_gate_limit_gets_a_notice_at_once(alice: Account):
    circuit_id = stored(alice, wide_circuit(64, 3000))
    client = browser(alice)
    started = time.perf_counter()
    page = client.get(f"/dashboard/circuits/{circuit_id}")
    seconds = time.perf_counter() - started
    print(f"refused drawing of 64 qubits x 3000 gates in {seconds * 1000:.0f} ms")
    assert page.status_code == 200
    drawn = drawing_of(page.text)
    assert "too large to draw" in drawn and "3000 operations" in drawn, drawn
    assert "┤" not in drawn
    assert seconds < 1.0


def test_a_circuit_above_the_qubit_limit_gets_a_notice(alice: Account):
    circuit_id = stored(alice, wide_circuit(80, 10))
    drawn = drawing_of(browser(alice).get(f"/dashboard/circuits/{circuit_id}").text)
    assert "too large to draw" in drawn and "80 qubits" in drawn, drawn


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[TestClient]:
    """An app that gives a drawing half a second."""
    settings = settings_for(tmp_path).with_overrides(run_worker=False, draw_timeout=0.5)
    with TestClient(create_app(settings)) as client:
        yield client


def slow_to_parse(definitions: int) -> str:
    """Few operations (it passes the size limits) but seconds of parsing: every definition is
    built by the QASM 3 importer."""
    gates = "".join(f"gate g{i} a {{ x a; }}\n" for i in range(definitions))
    return f'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\n{gates}g1 q[0];\n'


def test_a_slow_drawing_is_stopped_at_the_time_bound_and_the_api_goes_on(impatient: TestClient):
    account = new_account(impatient)
    circuit_id = stored(account, slow_to_parse(12_000))  # parsed once, when stored
    client = browser(account)
    pauses: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            assert impatient.get("/health").status_code == 200
            pauses.append(time.perf_counter() - started)
            time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        started = time.perf_counter()
        page = client.get(f"/dashboard/circuits/{circuit_id}")
        seconds = time.perf_counter() - started
    finally:
        done.set()
        prober.join()
    assert page.status_code == 200
    assert "took too long to draw" in drawing_of(page.text)
    assert seconds < 3, seconds
    # Drawn in a parser process, stopped there: the API process was never busy with it.
    assert max(pauses) < 0.5, max(pauses)


def test_the_drawing_limits_come_from_the_environment():
    settings = settings_from_env(
        {"QORCH_DRAW_MAX_QUBITS": "8", "QORCH_DRAW_MAX_GATES": "50", "QORCH_DRAW_TIMEOUT": "2.5"}
    )
    assert (settings.draw_max_qubits, settings.draw_max_gates) == (8, 50)
    assert settings.draw_timeout == 2.5
