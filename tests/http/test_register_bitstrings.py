"""A user measures into two classical registers of different sizes and reads one bitstring per
shot: every register's bits, the first-declared register rightmost, each register's bit 0 at its
right end, no spaces (Qiskit's order, as SamplerV2's join_data gives it; Result.get_counts
would put a space between registers). The same on every device and in OpenQASM 2 and 3."""

from __future__ import annotations

import pytest

from tests.conftest import Account

A_THEN_B_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[5];
creg a[2];
creg b[3];
x q[0];
x q[3];
x q[4];
measure q[0] -> a[0];
measure q[1] -> a[1];
measure q[2] -> b[0];
measure q[3] -> b[1];
measure q[4] -> b[2];
"""
"""a = a1 a0 = "01", b = b2 b1 b0 = "110": the bitstring is b then a, "11001"."""

A_THEN_B_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[5] q;
bit[2] a;
bit[3] b;
x q[0];
x q[3];
x q[4];
a[0] = measure q[0];
a[1] = measure q[1];
b[0] = measure q[2];
b[1] = measure q[3];
b[2] = measure q[4];
"""

B_THEN_A = A_THEN_B_QASM2.replace("creg a[2];\ncreg b[3];", "creg b[3];\ncreg a[2];")
"""The same measurements with b declared first: "01110"."""

EXPECTED = {A_THEN_B_QASM2: "11001", A_THEN_B_QASM3: "11001", B_THEN_A: "01110"}
SHOTS = 200


def run(account: Account, sources: list[str], device_id: str) -> dict:
    job = account.wait_for(
        account.run(circuits_qasm=sources, device_id=device_id, shots=SHOTS)["id"], 120
    )
    assert job["status"] == "Done", job
    return job


@pytest.mark.parametrize(
    "device_id", ["aer_simulator", "aer_simulator_matrix_product_state", "braket_sv"]
)
def test_two_registers_read_as_one_bitstring_first_register_rightmost(
    alice: Account, device_id: str
):
    sources = [A_THEN_B_QASM2, A_THEN_B_QASM3, B_THEN_A]

    job = run(alice, sources, device_id)

    assert job["counts"] == [{EXPECTED[source]: SHOTS} for source in sources]
    assert job["quantum_results"] == [{EXPECTED[source]: 1.0} for source in sources]
    assert job["info"]["uncertainty"] == [{EXPECTED[source]: 0.0} for source in sources]


@pytest.mark.parametrize("device_id", ["fake_manila", "runtime_fake_manila"])
def test_noisy_devices_use_the_same_layout(alice: Account, device_id: str):
    job = run(alice, [A_THEN_B_QASM2, B_THEN_A], device_id)

    for counts, expected in zip(job["counts"], ["11001", "01110"], strict=True):
        assert all(len(key) == 5 and " " not in key for key in counts)
        assert max(counts, key=counts.__getitem__) == expected, counts
