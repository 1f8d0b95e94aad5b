"""A user runs dynamic circuits (mid-circuit measurement, reset, if/else, for and while loops) on
Aer through real jobs and gets the distributions worked out by hand; where a run cannot use them
(StatevectorRun, Braket, IonQ, loops on IBM hardware, ...) the request is refused with a 422
naming the circuit, and nothing is recorded."""

from __future__ import annotations

import math

import pytest

from tests.conftest import Account

HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'

TELEPORT = (
    HEADER
    + """qubit[3] q;
bit[2] m;
bit[1] out;
ry(1.2) q[0];
h q[1];
cx q[1], q[2];
cx q[0], q[1];
h q[0];
m[0] = measure q[0];
m[1] = measure q[1];
if (m[1]) { x q[2]; }
if (m[0]) { z q[2]; }
out[0] = measure q[2];
"""
)
"""ry(1.2)|0> teleported from q[0] to q[2]: out is 1 with probability sin^2(0.6), whatever m."""

RESET_AFTER_X = (
    HEADER
    + "qubit[1] q;\nbit[2] c;\nx q[0];\nc[0] = measure q[0];\nreset q[0];\nc[1] = measure q[0];\n"
)
"""c[0] reads the X (1), c[1] the reset qubit (0): always "01"."""

FOR_LOOPS = (
    HEADER
    + """qubit[2] q;
bit[2] c;
for int i in [0:2] { x q[0]; }
for int i in [0:3] { x q[1]; }
c = measure q;
"""
)
"""Three X on q[0], four on q[1]: always "01"."""

REPEAT_UNTIL_ZERO = (
    HEADER
    + """qubit[1] q;
bit[1] c;
h q[0];
c[0] = measure q[0];
while (c[0]) {
  reset q[0];
  h q[0];
  c[0] = measure q[0];
}
"""
)
"""Loops a random number of times, and only stops on 0: always "0"."""

IF_ELSE = (
    HEADER
    + """qubit[3] q;
bit[3] c;
h q[0];
c[0] = measure q[0];
if (c[0]) { x q[1]; } else { x q[2]; }
c[1] = measure q[1];
c[2] = measure q[2];
"""
)
"""1 on q[0] flips q[1] ("011"), 0 flips q[2] ("100"), half the time each."""

QASM2_IF = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
measure q[0] -> c[0];
if (c==1) x q[1];
measure q[1] -> c[1];
"""
"""OpenQASM 2's `if` on the register's value: c[1] copies c[0], "00" or "11"."""

NESTED_IF = (
    HEADER
    + """qubit[2] q;
bit[2] c;
x q[0];
c[0] = measure q[0];
if (c[0]) { c[1] = measure q[1]; if (c[1]) { x q[0]; } }
"""
)

SHOTS = 2000


def done(account: Account, source: str, **body: object) -> dict:
    job = account.wait_for(account.run(circuits_qasm=[source], shots=SHOTS, **body)["id"])
    assert job["status"] == "Done", job
    return job


def within_five_sigma(count: int, shots: int, p: float) -> bool:
    return abs(count - shots * p) <= 5 * math.sqrt(shots * p * (1 - p))


@pytest.mark.parametrize(
    "source", [RESET_AFTER_X, FOR_LOOPS, REPEAT_UNTIL_ZERO], ids=["reset", "for", "while"]
)
def test_deterministic_dynamic_circuits_give_their_one_outcome(alice: Account, source: str):
    expected = {RESET_AFTER_X: "01", FOR_LOOPS: "01", REPEAT_UNTIL_ZERO: "0"}[source]

    job = done(alice, source)

    assert job["counts"] == [{expected: SHOTS}]
    assert job["quantum_results"] == [{expected: 1.0}]


def test_teleportation_delivers_the_state_whatever_was_measured(alice: Account):
    job = done(alice, TELEPORT, options={"seed_simulator": 11})

    [counts] = job["counts"]
    # Bitstrings are "out m1 m0": registers right to left in declaration order.
    assert all(len(key) == 3 for key in counts) and sum(counts.values()) == SHOTS
    ones = sum(n for key, n in counts.items() if key[0] == "1")
    assert within_five_sigma(ones, SHOTS, math.sin(0.6) ** 2)
    for m in ("00", "01", "10", "11"):  # every correction branch ran
        branch = {key[0]: n for key, n in counts.items() if key[1:] == m}
        assert within_five_sigma(sum(branch.values()), SHOTS, 0.25), counts
        assert branch.get("1", 0) < branch.get("0", 0)  # sin^2(0.6) = 0.32 in each branch


@pytest.mark.parametrize(
    ("source", "outcomes"),
    [(IF_ELSE, {"011", "100"}), (QASM2_IF, {"00", "11"})],
    ids=["if-else", "qasm2-if"],
)
def test_a_branch_on_a_measured_bit_follows_it(alice: Account, source: str, outcomes: set):
    job = done(alice, source, options={"seed_simulator": 5})

    [counts] = job["counts"]
    assert set(counts) == outcomes
    assert within_five_sigma(counts[min(outcomes)], SHOTS, 0.5)


def test_the_noisy_copies_of_ibm_devices_run_loops_and_branches(alice: Account):
    job = done(alice, FOR_LOOPS, device_id="fake_manila", options={"seed_simulator": 3})

    [counts] = job["counts"]
    assert counts["01"] > 0.8 * SHOTS  # noisy, mostly the ideal outcome


def test_stored_metrics_say_what_makes_a_circuit_dynamic(alice: Account):
    job = done(alice, TELEPORT)

    [circuit_id] = job["circuit_ids"]
    metrics = alice.get(f"/circuits/{circuit_id}").json()["metrics"]
    assert metrics["mid_circuit_measurements"] == 2
    assert metrics["other_ops"]["if_else"] == 2
    assert "ops_in_control_flow" not in metrics  # only gates inside the branches


# --- refused before anything is recorded --------------------------------------------------------


def refused(account: Account, source: str, **body: object) -> dict:
    answer = account.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {"experiment_id": account.experiment_id, "circuits_qasm": [source], **body},
    )
    assert answer.status_code == 422, answer.text
    assert account.get("/jobs").json()["jobs"] == []
    error: dict = answer.json()["error"]
    assert error["field"] == "circuits[0]", error
    return error


@pytest.mark.parametrize("source", [RESET_AFTER_X, FOR_LOOPS, IF_ELSE], ids=["reset", "for", "if"])
def test_a_statevector_run_of_a_dynamic_circuit_is_refused(alice: Account, source: str):
    error = refused(alice, source, run_type="StatevectorRun")

    assert "StatevectorRun computes one exact state" in error["message"]
    assert "use run_type Run" in error["message"]


@pytest.mark.parametrize(
    ("device_id", "source", "words"),
    [
        ("braket_sv", RESET_AFTER_X, "mid-circuit measurement (mid_circuit_measurement), reset"),
        ("braket_sv", IF_ELSE, "if/else (if_else)"),
        ("ionq_simulator", FOR_LOOPS, "for loops (for_loop)"),
        ("fake_manila", REPEAT_UNTIL_ZERO, "while loops (while_loop)"),
        ("fake_guadalupe", IF_ELSE, "if/else (if_else)"),
        ("ibm_fez", FOR_LOOPS, "for loops (for_loop)"),
        ("ibm_fez", NESTED_IF, "control flow nested in control flow (nested_control_flow)"),
    ],
)
def test_a_device_that_cannot_run_a_feature_refuses_it_by_name(
    alice: Account, device_id: str, source: str, words: str
):
    error = refused(alice, source, device_id=device_id, dry_run=True)

    assert error["message"].startswith("uses ") and words in error["message"]
    assert f"which {device_id} cannot run" in error["message"]


def test_ibm_hardware_takes_mid_circuit_measurement_reset_and_if_else(alice: Account):
    for source in (RESET_AFTER_X, IF_ELSE, TELEPORT):
        job = done(alice, source, device_id="ibm_fez", dry_run=True)
        assert job["estimated_qpu_cost"]["converted"]["amount"] > 0


def test_the_device_list_says_which_dynamic_features_each_device_runs(alice: Account):
    devices = {d["id"]: d for d in alice.get("/ai/list_qpus_and_simulators").json()["devices"]}

    assert "while_loop" in devices["aer_simulator"]["dynamic_circuits"]
    assert "while_loop" not in devices["fake_manila"]["dynamic_circuits"]
    assert devices["ibm_fez"]["dynamic_circuits"] == ["if_else", "mid_circuit_measurement", "reset"]
    assert devices["braket_sv"]["dynamic_circuits"] == []
    assert devices["ionq_aria_1"]["dynamic_circuits"] == []
