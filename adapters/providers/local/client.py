"""The Aer simulators of this process, and the calls a job makes on them.

A noisy simulator costs seconds to build, so each is built once per process, like the pass
managers (one per device, optimization level and transpiler seed). A job makes at most one
Sampler call and one Estimator call (one PUB per circuit, all parameter sets broadcast), or one
statevector `run` for a StatevectorRun.

Shot noise on expectation values: Aer's EstimatorV2 computes the exact expectation value (with
the noise model, if any) and adds a sample of N(0, precision); the caller passes precision =
1/sqrt(shots), the standard error of a Pauli estimate from `shots` samples in the worst case.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.local.catalogue import (
    FAKE_BACKENDS,
    aer_method,
    fake_backend,
    ideal_simulator,
)
from qorch.adapters.providers.pipeline.counts import counts_per_set, frequencies
from qorch.adapters.providers.pipeline.passes import pass_manager
from qorch.domain.execution import CircuitOutcome

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import StagedPassManager
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import EstimatorV2

    from qorch.adapters.providers.local.plan import Plan, Prepared

STATEVECTOR_DEVICE = "aer_simulator_statevector"
"""StatevectorRun is always ideal and dense, whatever the device."""


@functools.cache
def noisy_simulator(device_id: str) -> AerSimulator:
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(fake_backend(device_id))


def simulator(device_id: str) -> AerSimulator:
    if device_id in FAKE_BACKENDS:
        return noisy_simulator(device_id)
    return ideal_simulator(aer_method(device_id))


def pass_manager_for(
    device_id: str, optimization_level: int, seed_transpiler: int | None
) -> StagedPassManager:
    return pass_manager(optimization_level, seed_transpiler, backend=simulator(device_id))


def sample(plan: Plan, indices: list[int], shots: int, outcomes: list[CircuitOutcome]) -> None:
    """Counts and distributions of the circuits at `indices`, in one Sampler call."""
    from qiskit.primitives import BitArray
    from qiskit_aer.primitives import SamplerV2

    sampler = SamplerV2.from_backend(simulator(plan.executor_id), seed=plan.options.seed_simulator)
    pubs: list[tuple[Any, ...]] = []
    for i in indices:
        prepared = plan.circuits[i]
        if prepared.values.shape[1]:
            pubs.append((prepared.circuit, prepared.values, shots))
        else:
            # Aer runs a circuit without parameters once, so draw every set's shots from one run.
            pubs.append((prepared.circuit, None, shots * prepared.values.shape[0]))
    results = sampler.run(pubs, shots=shots).result()
    for i, result in zip(indices, results, strict=True):
        joined = result.join_data()
        sets = plan.circuits[i].values.shape[0]
        counts = counts_per_set(BitArray(joined.array.reshape(sets, shots, -1), joined.num_bits))
        outcomes[i].counts = counts
        outcomes[i].distributions = [frequencies(c) for c in counts]


def estimate(
    plan: Plan, indices: list[int], precision: float, outcomes: list[CircuitOutcome]
) -> None:
    """Expectation values of the circuits at `indices`, in one Estimator call."""
    pubs = [estimator_pub(plan.circuits[i]) for i in indices]
    results = estimator(plan).run(pubs, precision=precision).result()
    for i, result in zip(indices, results, strict=True):
        outcomes[i].expectation_values = np.asarray(result.data.evs, dtype=float).tolist()
        outcomes[i].standard_errors = np.asarray(result.data.stds, dtype=float).tolist()


def estimator(plan: Plan) -> EstimatorV2:
    from qiskit_aer.primitives import EstimatorV2

    run_options = {}
    if plan.options.seed_simulator is not None:
        run_options["seed_simulator"] = plan.options.seed_simulator
    return EstimatorV2.from_backend(
        simulator(plan.executor_id), options={"run_options": run_options}
    )


def estimator_pub(prepared: Prepared, circuit: QuantumCircuit | None = None) -> tuple[Any, ...]:
    """One PUB whose results are (O, P); `circuit` replaces the prepared one (same parameters)."""
    circuit = prepared.circuit if circuit is None else circuit
    assert prepared.observables is not None
    sets = prepared.values.shape[0]
    if prepared.values.shape[1]:
        # (O, 1) observables broadcast against (P, k) values -> (O, P)
        return (circuit, [[o] for o in prepared.observables], prepared.values)
    # No parameters left: repeat observables so each entry still gets its own noise.
    return (circuit, [[o] * sets for o in prepared.observables])


def statevectors(plan: Plan, indices: list[int], outcomes: list[CircuitOutcome]) -> None:
    """Exact states and probabilities of the circuits at `indices`, in one simulator run."""
    from qiskit_aer.library import SaveStatevector

    circuits, binds = [], []
    for i in indices:
        prepared = plan.circuits[i]
        circuit = prepared.circuit.copy()
        circuit.append(SaveStatevector(circuit.num_qubits), circuit.qubits)
        circuits.append(circuit)
        binds.append({p: prepared.values[:, j] for j, p in enumerate(prepared.circuit.parameters)})
    result = simulator(STATEVECTOR_DEVICE).run(circuits, parameter_binds=binds).result()
    experiment = 0
    for i in indices:
        prepared = plan.circuits[i]
        sets = prepared.values.shape[0]
        runs = sets if prepared.values.shape[1] else 1
        states = [np.asarray(result.data(experiment + r)["statevector"]) for r in range(runs)]
        experiment += runs
        if runs < sets:  # nothing to bind: the same exact state for every set
            states = states * sets
        outcomes[i].statevectors = [(s.real.tolist(), s.imag.tolist()) for s in states]
        outcomes[i].probabilities = [_probabilities(s, prepared.width) for s in states]


def _probabilities(state: np.ndarray, width: int) -> dict[str, float]:
    probabilities = np.abs(state) ** 2
    return {
        format(int(k), f"0{width}b"): float(probabilities[k]) for k in np.flatnonzero(probabilities)
    }
