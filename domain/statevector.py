"""How large a StatevectorRun may be, checked before the job is recorded.

A dense method holds every amplitude, 16 bytes (complex128) each, 2^n of them: such a run is
capped at `Limits.statevector_max_qubits` and must fit in the memory the job may use (the
device's job memory limit, the machine's memory). A device that computes exact expectation
values without a dense state (a matrix product state) says up to how many qubits under
`OBSERVABLES_QUBITS` in its `extra`; a StatevectorRun with observables runs there up to that
size, its memory depending on the circuit's entanglement and bounded while it runs by the job's
time and memory limits. Without observables a StatevectorRun asks for all 2^n amplitudes: the
dense rules hold whatever the device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from qorch.domain.circuit import CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.errors import RequestError

if TYPE_CHECKING:
    from qorch.domain.requests import Limits

AMPLITUDE_BYTES = 16
FULL_STATE_BYTES = 300
"""Per amplitude when every amplitude is returned: the simulator's state plus the result as
lists of numbers and a probability per basis state (about 290 bytes, measured at 18 and 20
qubits)."""
SIMULATOR_OVERHEAD_MB = 64
"""What the simulator holds beside the state: its threads' stacks and work buffers (a 20-qubit
run with observables needed 48 MiB, 16 of them the state)."""
OBSERVABLES_QUBITS = "statevector_observables_qubits"
"""Key of `Device.extra`: qubits up to which the device computes a StatevectorRun's exact
expectation values without a dense state."""


def dense_statevector_mb(qubits: int, full_state: bool) -> int:
    """MiB a dense StatevectorRun of `qubits` needs; `full_state`: every amplitude is returned."""
    per_amplitude = FULL_STATE_BYTES if full_state else AMPLITUDE_BYTES
    return math.ceil(per_amplitude * 2**qubits / 2**20) + SIMULATOR_OVERHEAD_MB


def sparse_observables_qubits(device: Device) -> int | None:
    found = device.extra.get(OBSERVABLES_QUBITS)
    return found if type(found) is int else None


def memory_budget(device: Device, limits: Limits) -> tuple[int, str] | None:
    """The MiB one job on `device` may use and what sets it; None when nothing bounds it."""
    budgets = []
    job_limit = _job_memory_mb(device)
    if job_limit is not None:
        budgets.append((job_limit, f"the job memory limit on {device.id}"))
    if limits.machine_memory_mb > 0:
        budgets.append((limits.machine_memory_mb, "the memory of this machine"))
    return min(budgets) if budgets else None


def check_statevector_fits(
    circuit: CircuitFacts, index: int, device: Device, observables: bool, limits: Limits
) -> None:
    field_name = f"circuits[{index}]"
    sparse = sparse_observables_qubits(device)
    if observables and sparse is not None:
        if circuit.qubits > sparse:
            raise RequestError(
                field_name,
                f"has {circuit.qubits} qubits; {device.id} computes exact expectation values "
                f"for at most {sparse}",
            )
        return
    hint = _hint(device, observables, sparse)
    if circuit.qubits > limits.statevector_max_qubits:
        raise RequestError(
            field_name,
            f"has {circuit.qubits} qubits; StatevectorRun is capped at "
            f"{limits.statevector_max_qubits} qubits on dense simulators on this server ({hint})",
        )
    needed = dense_statevector_mb(circuit.qubits, full_state=not observables)
    budget = memory_budget(device, limits)
    if budget is not None and needed > budget[0]:
        returned = "all of them returned" if not observables else "observables only"
        raise RequestError(
            field_name,
            f"has {circuit.qubits} qubits: a dense statevector of 2^{circuit.qubits} amplitudes "
            f"({returned}) needs about {needed:,} MiB, more than {budget[1]} "
            f"({budget[0]:,} MiB) ({hint})",
        )


def _hint(device: Device, observables: bool, sparse: int | None) -> str:
    if observables:
        return (
            "for more qubits use a device that lists statevector_observables_qubits, e.g. "
            "aer_simulator_matrix_product_state"
        )
    if sparse is not None:
        return (
            "without observables every amplitude is returned; give observables to get exact "
            f"expectation values for up to {sparse} qubits on {device.id}"
        )
    return (
        "without observables every amplitude is returned; give observables, and for more qubits "
        "use aer_simulator_matrix_product_state"
    )


def _job_memory_mb(device: Device) -> int | None:
    """The job memory limit the device catalogue puts in the device's listing (`limits`)."""
    listed = device.extra.get("limits")
    if not isinstance(listed, Mapping):
        return None
    found = listed.get("memory_mb")
    return found if type(found) is int and found > 0 else None
