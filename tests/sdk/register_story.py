"""Runs inside the haiqu-sdk virtual environment (not qorch's): a user builds a circuit with two
classical registers of different sizes in Qiskit and runs it through the unmodified haiqu-sdk
(HAIQU_EDGE_URI, HAIQU_API_KEY); prints what the SDK answered as one JSON line.

Usage: python register_story.py
"""

import json
import warnings

from haiqu.sdk import haiqu
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

warnings.simplefilter("ignore")


def two_registers(first: str) -> QuantumCircuit:
    """a = a1 a0 = 01 and b = b2 b1 b0 = 110, the register named `first` declared first."""
    q = QuantumRegister(5, "q")
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(3, "b")
    circuit = QuantumCircuit(q, *((a, b) if first == "a" else (b, a)))
    circuit.x([0, 3, 4])
    circuit.measure(q[0], a[0])
    circuit.measure(q[1], a[1])
    circuit.measure(q[2], b[0])
    circuit.measure(q[3], b[1])
    circuit.measure(q[4], b[2])
    return circuit


def main() -> dict:
    haiqu.login()
    haiqu.init("sdk-registers")
    circuits = [two_registers("a"), two_registers("b")]
    job = haiqu.run(circuits, shots=100, device_id="aer_simulator")
    legacy = haiqu.legacy.run(circuits[0], shots=100, device_id="aer_simulator")
    return {
        "id": job.id,
        "result": job.result(),
        "legacy_id": legacy.id,
        "legacy_result": legacy.result(),
    }


if __name__ == "__main__":
    print("SDK-STORY " + json.dumps(main(), default=repr))
