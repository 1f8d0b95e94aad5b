"""Hypothesis properties of the submit path: random QASM and random JSON bodies never answer 5xx,
and a 4xx records nothing (no Job or Circuit event by the caller).

The QASM strategy mixes valid-ish programs (OpenQASM 2.0 and 3.0 headers, registers, known and
unknown gates, parameters, out-of-range indices, measurements, wide registers) with arbitrary text;
the body strategy mixes the real field names with wrong types, unknown fields and arbitrary JSON.
Shots stay small and registers narrow (or far past the caps) so that accepted jobs are cheap.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from qorch.http.app import create_app
from tests.conftest import Account, new_account, settings_for

RUN_PATH = "/ai/run_circuits_on_qpu_or_simulator"
SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

GATES_1Q = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "id", "hh", "u9"]
GATES_1Q_PARAM = ["rx", "ry", "rz", "p", "u1"]
GATES_2Q = ["cx", "cz", "swap", "ch", "ccx", "cp"]
ANGLES = ["pi/2", "0.1", "-pi", "pi/4", "theta", "theta", "a+b", "1e308", "nan", "pi/0", "2*", ""]
SIZES = st.sampled_from([0, 1, 2, 2, 3, 3, 4, 40, 64])


@st.composite
def qasm_programs(draw: st.DrawFn) -> str:
    version = draw(st.sampled_from(["2.0", "2.0", "3.0", "3.0", "3", "4.0", None]))
    size = draw(SIZES)
    lines: list[str] = []
    if version is not None:
        lines.append(f"OPENQASM {version};")
    qasm3 = version in ("3.0", "3", "4.0")
    if draw(st.integers(0, 4)) > 0:
        lines.append('include "stdgates.inc";' if qasm3 else 'include "qelib1.inc";')
    if qasm3:
        lines += [f"qubit[{size}] q;", f"bit[{size}] c;"]
        if draw(st.booleans()):
            lines.insert(2, "input float[64] theta;")
    else:
        lines += [f"qreg q[{size}];", f"creg c[{size}];"]
    inside = st.integers(min_value=0, max_value=max(size - 1, 0))
    index = st.one_of(inside, inside, inside, st.integers(min_value=-1, max_value=size + 1))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 7))
        if kind == 0:
            lines.append(f"{draw(st.sampled_from(GATES_1Q))} q[{draw(index)}];")
        elif kind == 1:
            gate, angle = draw(st.sampled_from(GATES_1Q_PARAM)), draw(st.sampled_from(ANGLES))
            lines.append(f"{gate}({angle}) q[{draw(index)}];")
        elif kind <= 5:
            gate = draw(st.sampled_from(GATES_2Q))
            lines.append(f"{gate} q[{draw(index)}],q[{draw(index)}];")
        else:
            lines.append(draw(st.text(max_size=20)))
    if draw(st.integers(0, 3)) > 0:
        lines.append("c = measure q;" if qasm3 else "measure q -> c;")
    text = "\n".join(lines)
    if draw(st.integers(0, 9)) == 0:  # cut it anywhere
        text = text[: draw(st.integers(0, len(text)))]
    return text


@st.composite
def valid_programs(draw: st.DrawFn) -> str:
    """Well-formed programs (1..4 qubits, known gates, distinct in-range operands)."""
    qasm3 = draw(st.booleans())
    size = draw(st.integers(1, 4))
    lines = (
        ["OPENQASM 3.0;", 'include "stdgates.inc";', f"qubit[{size}] q;", f"bit[{size}] c;"]
        if qasm3
        else ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{size}];", f"creg c[{size}];"]
    )
    for _ in range(draw(st.integers(0, 10))):
        if size >= 2 and draw(st.booleans()):
            a, b = draw(st.permutations(range(size)))[:2]
            lines.append(f"{draw(st.sampled_from(['cx', 'cz', 'swap']))} q[{a}], q[{b}];")
        elif draw(st.booleans()):
            qubit = draw(st.integers(0, size - 1))
            lines.append(f"{draw(st.sampled_from(GATES_1Q[:9]))} q[{qubit}];")
        else:
            gate = draw(st.sampled_from(["rx", "ry", "rz"]))
            qubit = draw(st.integers(0, size - 1))
            lines.append(f"{gate}({draw(st.sampled_from(ANGLES[:4]))}) q[{qubit}];")
    lines.append("c = measure q;" if qasm3 else "measure q -> c;")
    return "\n".join(lines)


QASM = st.one_of(valid_programs(), qasm_programs(), st.text(max_size=200))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
PAULIS = st.text(alphabet="IXYZQ", min_size=0, max_size=4)


@st.composite
def run_bodies(draw: st.DrawFn, experiment_id: str) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUES)  # not even an object, or an object of anything
    body: dict[str, Any] = {}
    if draw(st.integers(0, 9)) > 0:
        body["experiment_id"] = draw(st.sampled_from([experiment_id, "nope", ""]) | JSON_VALUES)
    circuits = st.lists(QASM, min_size=0, max_size=3)
    choice = draw(st.integers(0, 5))
    if choice <= 3:
        body["circuits_qasm"] = draw(circuits)
    elif choice == 4:
        body["circuit_ids"] = draw(st.lists(st.text(max_size=36), max_size=2) | JSON_VALUES)
    else:
        body["circuits_qasm"] = draw(JSON_VALUES)
    optional = {
        "device_id": st.sampled_from(
            [
                "",
                "aer_simulator",
                "aer_simulator_statevector",
                "aer_simulator_stabilizer",
                "aer_simulator_matrix_product_state",
                "fake_manila",
                "no_such",
            ]
        )
        | JSON_VALUES,
        "shots": st.sampled_from([0, -1, 1, 10, 100, 10**12, 1.5, "10", True]),
        "parameters": st.lists(st.lists(st.floats() | st.integers(), max_size=3), max_size=3)
        | JSON_VALUES,
        "observables": st.lists(
            st.tuples(st.lists(PAULIS, max_size=2), st.lists(st.floats(), max_size=2)), max_size=2
        ).map(lambda obs: [list(o) for o in obs])
        | JSON_VALUES,
        "options": st.dictionaries(
            st.sampled_from(
                ["seed_simulator", "seed_transpiler", "optimization_level", "method", "token", "x"]
            ),
            st.integers(-5, 5) | JSON_VALUES,
            max_size=3,
        )
        | JSON_VALUES,
        "use_mitigation": st.booleans() | JSON_VALUES,
        "dry_run": st.booleans() | JSON_VALUES,
        "run_type": st.sampled_from(["Run", "StatevectorRun", "Sample"]) | JSON_VALUES,
        "name": st.text(max_size=20) | JSON_VALUES,
        "unknown_field": JSON_VALUES,
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 3)) == 0:
            body[key] = draw(strategy)
    return body


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings_ = settings_for(Path(tmp_path_factory.mktemp("qorch-fuzz-run")))
    with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def account(app_client: TestClient) -> Account:
    return new_account(app_client)


def log_position(account: Account) -> int:
    app = account.client.app.state.service.app  # type: ignore[attr-defined]
    return app.recorder.max_notification_id() or 0


def recorded_by(account: Account, after: int) -> list[str]:
    app = account.client.app.state.service.app  # type: ignore[attr-defined]
    events = [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(
            start=after, limit=10_000, inclusive_of_start=False
        )
    ]
    return [
        type(e).__qualname__ for e in events if str(getattr(e, "user_id", "")) == account.user_id
    ]


def post_json(account: Account, body: Any) -> Any:
    # json.dumps writes NaN and Infinity (which Python's json.loads reads back): part of the fuzz.
    return account.client.post(
        RUN_PATH,
        content=json.dumps(body).encode(),
        headers={**account.headers, "Content-Type": "application/json"},
    )


STATUSES: Counter[int] = Counter()


def check_answer(account: Account, before: int, answer: Any, request: Any) -> None:
    STATUSES[answer.status_code] += 1
    assert answer.status_code < 500, f"{request!r} -> {answer.status_code}: {answer.text[:500]}"
    if 400 <= answer.status_code < 500:
        assert "error" in answer.json(), answer.text
        assert recorded_by(account, before) == [], (request, answer.text)
    else:
        assert answer.status_code == 201, answer.text


@SETTINGS
@given(data=st.data())
def test_random_bodies_never_5xx_and_a_4xx_records_nothing(account: Account, data: Any):
    body = data.draw(run_bodies(account.experiment_id))
    before = log_position(account)
    answer = post_json(account, body)
    check_answer(account, before, answer, body)


@SETTINGS
@given(qasm=QASM, dry_run=st.booleans())
def test_random_qasm_never_5xx_and_a_4xx_records_nothing(
    account: Account, qasm: str, dry_run: bool
):
    body = {
        "experiment_id": account.experiment_id,
        "circuits_qasm": [qasm],
        "shots": 10,
        "dry_run": dry_run,
    }
    before = log_position(account)
    answer = post_json(account, body)
    check_answer(account, before, answer, qasm)


@SETTINGS
@given(raw=st.binary(max_size=100) | st.text(max_size=100).map(str.encode))
def test_random_bytes_never_5xx_and_record_nothing(account: Account, raw: bytes):
    before = log_position(account)
    answer = account.client.post(
        RUN_PATH, content=raw, headers={**account.headers, "Content-Type": "application/json"}
    )
    try:
        json.loads(raw)
    except ValueError:
        assert answer.status_code == 400, answer.text
    check_answer(account, before, answer, raw)


def test_the_fuzz_reached_both_outcomes():
    """The strategies are not all garbage: some submits were accepted, some refused."""
    print(dict(STATUSES))
    assert STATUSES[201] > 0 and STATUSES[422] > 0, STATUSES
