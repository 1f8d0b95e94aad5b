"""QPY (Qiskit's binary circuit format, as the haiqu-sdk uploads it) to OpenQASM 3 text.

qorch stores circuits as OpenQASM; an uploaded QPY circuit is converted once, here. Parameters
bind positionally in name order, and OpenQASM 3 mangles some names (`theta[10]` becomes
`_theta_10_`, which sorts before `_theta_2_`), so every parameter is renamed with a zero-padded
position prefix: the stored circuit's parameter order is the uploaded circuit's order.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from qiskit import QuantumCircuit, qasm3, qpy
from qiskit.circuit import Parameter

from qorch.domain.requests import Limits


class QpyError(ValueError):
    """The upload is not one readable QPY circuit, or it cannot be written as OpenQASM 3."""


def load_qpy(qpy_b64: str) -> QuantumCircuit:
    try:
        raw = base64.b64decode(qpy_b64, validate=True)
    except (binascii.Error, ValueError) as error:
        raise QpyError(f"qpy_dump is not base64: {error}") from None
    try:
        circuits = qpy.load(io.BytesIO(raw))
    except Exception as error:  # QPY readers raise many kinds on bad bytes
        raise QpyError(f"qpy_dump is not a readable QPY file: {error}") from None
    if len(circuits) != 1 or not isinstance(circuits[0], QuantumCircuit):
        raise QpyError(f"qpy_dump must hold exactly one circuit, it holds {len(circuits)}")
    return circuits[0]


def qasm3_from_qpy(qpy_b64: str) -> str:
    """Converts in a parser process (adapters/circuit_sandbox.py): QPY bytes can describe a
    circuit as large as any text can, and reading them must not cost the API process."""
    from qorch.adapters import circuit_sandbox
    from qorch.adapters.circuit_sandbox import SandboxFailure

    try:
        status, value = circuit_sandbox.call(convert_here, qpy_b64, circuit_sandbox.limits())
    except SandboxFailure as failure:
        raise QpyError(str(failure)) from None
    if status != "ok":
        raise QpyError(value)
    return value


def convert_here(qpy_b64: str, limits: Limits) -> tuple[str, str]:
    """In a parser process: ("ok", OpenQASM 3 text) or ("refused", why)."""
    from qorch.adapters.circuit_limits import CircuitLimitError, check_circuit

    try:
        circuit = load_qpy(qpy_b64)
        check_circuit(circuit, limits)
        return ("ok", qasm3_from_circuit(circuit))
    except QpyError as error:
        return ("refused", str(error))
    except CircuitLimitError as error:
        return ("refused", f"the circuit {error.detail}")


def qasm3_from_circuit(circuit: QuantumCircuit) -> str:
    # A matrix gate would be written as a custom gate named `unitary`, which Aer then reads as
    # its own matrix instruction: write its decomposition instead.
    circuit = circuit.decompose(gates_to_decompose=["unitary"])
    renamed = {
        parameter: Parameter(f"p{index:05d}_{_identifier(parameter.name)}")
        for index, parameter in enumerate(circuit.parameters)
    }
    if renamed:
        circuit = circuit.assign_parameters(renamed)
    try:
        return qasm3.dumps(circuit)
    except Exception as error:  # the exporter refuses some constructs
        raise QpyError(f"the circuit cannot be written as OpenQASM 3: {error}") from None


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)
