"""A primitive's `PrimitiveResult` turned into our outcomes, with M3 readout correction.

With readout correction, each sampled circuit's counts are corrected with the per-qubit
assignment matrices of the calibration PUBs of the same job: `counts` stay as measured,
`distributions` are the nearest probability distribution to M3's quasi-probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.ibm.batches import Batch
from qorch.adapters.providers.ibm.primitives import NAMES
from qorch.adapters.providers.ibm.usage import actual_cost, billed_seconds
from qorch.adapters.providers.pipeline.counts import counts_per_set
from qorch.adapters.providers.pipeline.mitigation.readout import correct_readout_from_matrices
from qorch.domain.devices import Device
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome, ExecutionTask, ProviderJob

if TYPE_CHECKING:
    from qiskit.primitives import BitArray

SHOTS_NOTE = (
    "twirling rounded the Sampler's shots up to randomizations x shots per randomization; "
    "counts hold a uniformly random subset of exactly `shots` of them"
)


@dataclass
class Stub:
    """What result conversion needs of a circuit when polling (no re-transpiling)."""

    index: int
    values: np.ndarray
    observables: list[Any] | None

    @property
    def sets(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def of(cls, task: ExecutionTask, index: int, unbound: bool) -> Stub:
        circuit = task.circuits[index]
        sets = len(circuit.parameter_sets) if circuit.parameter_sets else 1
        # Unbound: nothing was left to bind, the Sampler ran shots x sets in one PUB.
        width = 0 if unbound else 1
        return cls(index, np.zeros((sets, width)), list(circuit.observables or []) or None)


def convert(
    batch: Batch, result: Any, shots: int, outcomes: list[CircuitOutcome]
) -> dict[str, Any]:
    """Fills the outcomes of a batch's circuits from its PrimitiveResult; returns metadata."""
    if batch.kind == "estimator":
        for p, pub_result in zip(batch.circuits, result, strict=False):
            evs = np.asarray(pub_result.data.evs, dtype=float).reshape(-1, p.sets)
            stds = np.asarray(pub_result.data.stds, dtype=float).reshape(-1, p.sets)
            outcomes[p.index].expectation_values = evs.tolist()
            outcomes[p.index].standard_errors = stds.tolist()
        return {}
    notes: dict[str, Any] = {}
    position, returned = _sampled(batch, result, shots, outcomes)
    if returned > shots:
        notes["shots_returned"] = returned
    if batch.calibrated:
        notes["readout"] = _corrected(
            batch, result[position], result[position + 1], shots, outcomes
        )
    return notes


def metadata(
    requested: bool, applied: dict[str, dict[str, Any]], notes: dict[str, Any]
) -> dict[str, Any]:
    """The `mitigation` metadata of a job: what each primitive applied, readout correction."""
    described: dict[str, Any] = {"requested": requested}
    for kind, facts in applied.items():
        described[kind] = dict(facts)
    if "readout" in notes:
        described.setdefault("sampler", {})["readout"] = notes["readout"]
    elif "sampler" in described:
        described["sampler"]["readout"] = None
    return described


def add_shots_note(metadata: dict[str, Any], notes: dict[str, Any]) -> None:
    if "shots_returned" in notes:
        metadata["shots_measured"] = notes["shots_returned"]
        metadata["shots_note"] = SHOTS_NOTE


def _sampled(
    batch: Batch, result: Any, shots: int, outcomes: list[CircuitOutcome]
) -> tuple[int, int]:
    """Counts of each sampled circuit; returns the next PUB's position and the most shots a
    PUB returned."""
    from qiskit.primitives import BitArray

    position = returned = 0
    for p in batch.circuits:
        arrays = []
        for _ in range(1 if p.values.shape[1] else p.sets):
            joined = result[position].join_data()
            position += 1
            arrays.append(joined.array.reshape(-1, joined.num_shots, joined.array.shape[-1]))
        array = np.concatenate(arrays, axis=0)
        returned = max(returned, array.shape[1])
        counts = counts_per_set(BitArray(_exactly(array, shots, p.index), joined.num_bits))
        outcomes[p.index].counts = counts
        outcomes[p.index].distributions = [{k: v / shots for k, v in c.items()} for c in counts]
    return position, returned


def _exactly(array: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """(P, S, bytes) measured shots cut down to `shots` per set. With twirling the Sampler
    rounds shots up to randomizations x shots per randomization (1000 -> 32 x 32 = 1024); a
    uniformly random subset keeps the distribution and makes counts sum to the shots asked."""
    if array.shape[1] <= shots:
        return array
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(array.shape[1], size=shots, replace=False))
    return array[:, keep, :]


def _corrected(
    batch: Batch, zeros: Any, ones: Any, shots: int, outcomes: list[CircuitOutcome]
) -> dict[str, Any]:
    """Readout-corrected distributions of the sampled circuits; the readout metadata."""
    matrices = _assignment_matrices(zeros.data.cal, ones.data.cal)
    corrected: list[int] = []
    skipped: dict[str, str] = {}
    overhead = 1.0
    for p in batch.circuits:
        measured = batch.measured.get(p.index)
        if isinstance(measured, str) or measured is None:
            skipped[str(p.index)] = measured or "not measured"
            continue
        raw = outcomes[p.index].counts
        assert raw is not None
        distributions, worst = correct_readout_from_matrices(
            raw, measured, batch.calibrated, matrices
        )
        outcomes[p.index].distributions = distributions
        overhead = max(overhead, worst)
        corrected.append(p.index)
    return {
        "method": "mthree (M3) readout-error correction",
        "calibration": "2 PUBs in the same job: all measured qubits in |0>, then in |1>",
        "calibration_shots": shots,
        "calibrated_qubits": list(batch.calibrated),
        "assignment_fidelity": [round(0.5 * (m[0][0] + m[1][1]), 6) for m in matrices],
        "circuits": corrected,
        "skipped": skipped,
        "max_mitigation_overhead": overhead,
        "counts": "raw, as measured (readout errors included)",
        "distributions": "nearest probability distribution to M3's quasi-probabilities",
    }


def _assignment_matrices(zeros: BitArray, ones: BitArray) -> list[list[list[float]]]:
    """Per calibrated qubit, [[P(0|0), P(0|1)], [P(1|0), P(1|1)]] (mthree's layout)."""
    flipped_up = zeros.to_bool_array(order="little").reshape(-1, zeros.num_bits).mean(axis=0)
    stayed_up = ones.to_bool_array(order="little").reshape(-1, ones.num_bits).mean(axis=0)
    return [
        [[1.0 - float(p10), 1.0 - float(p11)], [float(p10), float(p11)]]
        for p10, p11 in zip(flipped_up, stayed_up, strict=True)
    ]


def remote_outcome(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    entries: list[dict[str, Any]],
    runtime_jobs: list[Any],
) -> ExecutionOutcome:
    """The outcome of a task whose IBM jobs are all done, from what submit recorded."""
    shapes: list[dict[str, int]] = list(job.data.get("shapes") or [{}] * len(task.circuits))
    outcomes = [CircuitOutcome(transpiled=dict(shape)) for shape in shapes]
    notes: dict[str, Any] = {}
    usage: dict[str, float | None] = {}
    for entry, runtime_job in zip(entries, runtime_jobs, strict=True):
        unbound = set(entry.get("unbound") or [])
        batch = Batch(
            kind=entry["primitive"],
            circuits=[Stub.of(task, i, i in unbound) for i in entry.get("circuits", [])],
            measured={int(k): v for k, v in (entry.get("measured") or {}).items()},
            calibrated=list(entry.get("calibrated") or []),
        )
        notes.update(convert(batch, runtime_job.result(), task.shots, outcomes))
        usage[entry["id"]] = billed_seconds(runtime_job)
    applied: dict[str, dict[str, Any]] = dict(job.data.get("applied") or {})
    described: dict[str, Any] = {
        "device": device.id,
        "execution": "IBM Quantum Platform",
        "backend": job.data.get("backend", device.id),
        "provider_job_ids": list(job.ids),
        "primitives": {e["primitive"]: NAMES[e["primitive"]] for e in entries},
        "shots": task.shots,
        "optimization_level": job.data.get("optimization_level"),
        "seed_transpiler": job.data.get("seed_transpiler"),
        "qpu_seconds": usage,
        "mitigation": metadata(bool(job.data.get("mitigation_requested")), applied, notes),
    }
    add_shots_note(described, notes)
    sets = sum(len(c.parameter_sets) if c.parameter_sets else 1 for c in task.circuits)
    return ExecutionOutcome(
        circuits=outcomes, metadata=described, cost=actual_cost(usage, task.shots * sets)
    )
