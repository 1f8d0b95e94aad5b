"""Readout-error mitigation with mthree (M3) of sampled distributions.

The local provider calibrates on the noisy simulator itself (`correct_readout`); IBM's Sampler
runs calibration circuits beside the job's and corrects from their matrices
(`correct_readout_from_matrices`). Both answer the same way:
- `counts` stay the integer counts as measured (raw, readout errors included; they still sum to
  shots): M3 yields quasi-probabilities, not counts, and rounding them into counts would pass off
  a post-processed estimate as measured data.
- `distributions` are the nearest probability distributions to M3's quasi-probabilities
  (non-negative, summing to 1 in float64), so they no longer equal counts / shots.

Every classical bit must be written by exactly one measurement, of its own physical qubit,
outside control flow (`measured_qubits`; otherwise the circuit is left unmitigated and the
metadata says why). On the local noisy simulators M3 is calibrated for the measured physical
qubits ("independent" method: prepare |0> and |1> on each qubit, CALIBRATION_SHOTS shots each,
with a fixed seed), once per process per (device, qubits): a calibration is a snapshot of the
device, like a real one's periodic calibration, and the fixed seed makes it the same in every
process so that seeded runs are reproducible.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mthree import M3Mitigation
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

CALIBRATION_SHOTS = 10_000
"""Shots per M3 calibration circuit (mthree's own default); two circuits per qubit."""
CALIBRATION_METHOD = "independent"
CALIBRATION_SEED = 1_234_567
_MAX_CALIBRATIONS = 32
"""Calibrations kept per process, least recently used dropped first."""


@dataclass
class ReadoutReport:
    """What readout mitigation did for a job's sampled circuits."""

    circuits: list[int]
    skipped: dict[str, str]
    qubits: dict[str, list[int]]
    calibrations_taken: int = 0
    calibration_seconds: float = 0.0
    max_overhead: float = 1.0

    def metadata(self) -> dict[str, Any]:
        return {
            "method": "mthree",
            "mthree_version": version("mthree"),
            "calibration": CALIBRATION_METHOD,
            "calibration_shots": CALIBRATION_SHOTS,
            "calibration_circuits_per_qubit": 2,
            "calibrations_taken": self.calibrations_taken,
            "calibration_seconds": self.calibration_seconds,
            "circuits": self.circuits,
            "skipped": self.skipped,
            "qubits": self.qubits,
            "max_mitigation_overhead": self.max_overhead,
            "counts": "raw, as measured (readout errors included)",
            "distributions": "nearest probability distribution to M3's quasi-probabilities",
        }


def measured_qubits(isa: QuantumCircuit) -> list[int] | str:
    """Physical qubit read into each classical bit (clbit order), or why M3 cannot apply."""
    qubit_of: dict[int, int] = {}
    for instruction in isa.data:
        operation = instruction.operation
        if getattr(operation, "blocks", None):
            return "the circuit has control flow"
        if operation.name != "measure":
            continue
        clbit = isa.find_bit(instruction.clbits[0]).index
        if clbit in qubit_of:
            return f"classical bit {clbit} is written more than once"
        qubit_of[clbit] = isa.find_bit(instruction.qubits[0]).index
    if len(qubit_of) != isa.num_clbits:
        return "some classical bits are never measured into"
    qubits = [qubit_of[clbit] for clbit in range(isa.num_clbits)]
    if len(set(qubits)) != len(qubits):
        return "a qubit is measured into several classical bits"
    return qubits


def correct_readout(
    simulator: AerSimulator,
    device_id: str,
    qubits: list[int],
    counts: list[dict[str, int]],
    report: ReadoutReport,
) -> list[dict[str, float]]:
    """Mitigated distribution per parameter set, from the measured counts."""
    mitigator = _calibrated(simulator, device_id, tuple(sorted(qubits)), report)
    distributions, overhead = corrected(mitigator, counts, qubits)
    report.max_overhead = max(report.max_overhead, overhead)
    return distributions


def correct_readout_from_matrices(
    counts: list[dict[str, int]],
    measured: list[int],
    calibrated: list[int],
    matrices: Sequence[Sequence[Sequence[float]]],
) -> tuple[list[dict[str, float]], float]:
    """Mitigated distribution per parameter set, and the largest mitigation overhead, from
    assignment matrices per calibrated qubit ([[P(0|0), P(0|1)], [P(1|0), P(1|1)]], mthree's
    layout; qubits not calibrated are taken as perfect)."""
    import mthree

    cals: list[np.ndarray] = [np.eye(2, dtype=np.float32)] * (max(calibrated) + 1)
    for qubit, matrix in zip(calibrated, matrices, strict=True):
        cals[qubit] = np.asarray(matrix, dtype=np.float32)
    mitigator = mthree.M3Mitigation()
    mitigator.cals_from_matrices(cals)
    return corrected(mitigator, counts, measured)


def corrected(
    mitigator: M3Mitigation, counts: list[dict[str, int]], qubits: list[int]
) -> tuple[list[dict[str, float]], float]:
    """M3's correction of `counts` (one dict per parameter set) as the nearest probability
    distributions, and the largest mitigation overhead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quasis = mitigator.apply_correction(counts, qubits, return_mitigation_overhead=True)
    distributions = []
    overhead = 1.0
    for quasi in quasis:
        overhead = max(overhead, float(quasi.mitigation_overhead))
        nearest = {k: float(p) for k, p in quasi.nearest_probability_distribution().items() if p}
        total = sum(nearest.values())  # mthree works in float32: renormalise in float64
        distributions.append({key: p / total for key, p in nearest.items()})
    return distributions, overhead


_CALIBRATIONS: OrderedDict[tuple[str, tuple[int, ...]], M3Mitigation] = OrderedDict()


def _calibrated(
    simulator: AerSimulator, device_id: str, qubits: tuple[int, ...], report: ReadoutReport
) -> M3Mitigation:
    key = (device_id, qubits)
    if key in _CALIBRATIONS:
        _CALIBRATIONS.move_to_end(key)
        return _CALIBRATIONS[key]
    import mthree

    started = time.perf_counter()
    mitigator = mthree.M3Mitigation(_SeededBackend(simulator, CALIBRATION_SEED))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mitigator.cals_from_system(
            list(qubits), shots=CALIBRATION_SHOTS, method=CALIBRATION_METHOD, async_cal=False
        )
    report.calibrations_taken += 1
    report.calibration_seconds += time.perf_counter() - started
    _CALIBRATIONS[key] = mitigator
    while len(_CALIBRATIONS) > _MAX_CALIBRATIONS:
        _CALIBRATIONS.popitem(last=False)
    return mitigator


class _SeededBackend:
    """The shared noisy simulator, seen by mthree with a fixed seed on every `run`.

    mthree runs its calibration circuits with `backend.run(circuits, shots=...)` and offers no
    seed; wrapping avoids mutating the per-process simulator's options.
    """

    def __init__(self, backend: AerSimulator, seed: int) -> None:
        self._backend = backend
        self._seed = seed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def run(self, circuits: Any, **options: Any) -> Any:
        # mthree passes hardware-only options (rep_delay, job_tags) that Aer would warn about.
        options = {k: v for k, v in options.items() if k not in ("rep_delay", "job_tags")}
        return self._backend.run(circuits, seed_simulator=self._seed, **options)
