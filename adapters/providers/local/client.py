"""The Aer simulators of this process, and the calls a job makes on them.

A noisy simulator costs seconds to build, so each is built once per process, like the pass
managers (one per device, optimization level and transpiler seed). A job makes at most one
counting `run` (all sampled circuits, all parameter sets bound by Aer) and one Estimator call
(one PUB per circuit, all parameter sets broadcast), or one statevector `run` for a
StatevectorRun.

Shot noise on expectation values: Aer's EstimatorV2 computes the exact expectation value (with
the noise model, if any) and adds a sample of N(0, precision); the caller passes precision =
1/sqrt(shots), the standard error of a Pauli estimate from `shots` samples in the worst case.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.local.catalogue import (
    FAKE_BACKENDS,
    aer_method,
    fake_backend,
    ideal_simulator,
)
from qorch.adapters.providers.pipeline.counts import Bitstrings, frequencies, reported_clbits
from qorch.adapters.providers.pipeline.passes import pass_manager
from qorch.domain.execution import CircuitOutcome

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit.result import Result
    from qiskit.transpiler import StagedPassManager
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import EstimatorV2

    from qorch.adapters.providers.local.plan import Plan, Prepared

STATEVECTOR_DEVICE = "aer_simulator_statevector"
"""A StatevectorRun is always ideal: dense, unless its device is a matrix product state."""


@functools.cache
def noisy_simulator(device_id: str) -> AerSimulator:
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(fake_backend(device_id))


def simulator(device_id: str) -> AerSimulator:
    if device_id in FAKE_BACKENDS:
        return noisy_simulator(device_id)
    return ideal_simulator(aer_method(device_id))


PARALLEL_WIDTH = 14
"""Aer's own threshold (statevector_parallel_threshold) for splitting a state across threads."""
SIDE_BY_SIDE_WIDTH = 20
SIDE_BY_SIDE_EXPERIMENTS = 8
"""A dense run of at least this many experiments (a sweep's parameter sets), all narrower than
SIDE_BY_SIDE_WIDTH, runs whole experiments side by side, one thread each, instead of splitting
each state across threads: 100 sets of a 14-qubit sampling sweep took 1.8-2.0 s of CPU that way
instead of 3.4-3.5 s (the same seeded counts), and as little wall time as one thread on a busy
machine. A state of 2^20 amplitudes is 16 MiB: one per thread stays small."""
SIDE_BY_SIDE_DEVICES = ("aer_simulator", "aer_simulator_statevector")


def threads_for(
    device_id: str, circuits: Iterable[QuantumCircuit], experiments: int = 1
) -> dict[str, int]:
    """Run options: an ideal simulation narrower than PARALLEL_WIDTH gains nothing from OpenMP
    threads, and on a busy machine their spinning makes a Bell run ten times slower (16 ms
    instead of 1.1 ms, measured with both cores busy); a noisy one splits its shots across them;
    a dense sweep runs its experiments side by side (SIDE_BY_SIDE_EXPERIMENTS)."""
    if device_id in FAKE_BACKENDS:
        return {}
    width = max((c.num_qubits for c in circuits), default=0)
    if (
        device_id in SIDE_BY_SIDE_DEVICES
        and experiments >= SIDE_BY_SIDE_EXPERIMENTS
        and width < SIDE_BY_SIDE_WIDTH
    ):
        return {"max_parallel_experiments": 0}
    if width >= PARALLEL_WIDTH:
        return {}
    return {"max_parallel_threads": 1}


def pass_manager_for(
    device_id: str, optimization_level: int, seed_transpiler: int | None
) -> StagedPassManager:
    return pass_manager(optimization_level, seed_transpiler, backend=simulator(device_id))


def sample(plan: Plan, indices: list[int], shots: int, outcomes: list[CircuitOutcome]) -> None:
    """Counts and distributions of the circuits at `indices`, in one simulator run: Aer binds
    every parameter set and counts the shots itself (a Sampler would return every shot)."""
    circuits: list[QuantumCircuit] = []
    binds: list[dict[Parameter, np.ndarray]] = []
    for i in indices:
        prepared = plan.circuits[i]
        if prepared.values.shape[1]:
            circuits.append(prepared.circuit)
            binds.append(_binds(prepared))
        else:
            # Aer runs a circuit without parameters once: one copy per set keeps sets independent.
            circuits.extend([prepared.circuit] * prepared.values.shape[0])
            binds.extend({} for _ in range(prepared.values.shape[0]))
    seed = plan.options.seed_simulator
    experiments = sum(plan.circuits[i].values.shape[0] for i in indices)
    run_options: dict[str, Any] = threads_for(plan.executor_id, circuits, experiments)
    if seed is not None:
        run_options["seed_simulator"] = seed
    result = ran(simulator(plan.executor_id), circuits, binds, shots=shots, **run_options)
    experiments = iter(_succeeded(result))
    for i in indices:
        circuit = plan.circuits[i].circuit
        bitstrings = Bitstrings(reported_clbits(circuit), circuit.num_clbits)
        counts = []
        for _ in range(plan.circuits[i].values.shape[0]):
            # No counts when no measurement ran: every clbit reads 0, as Aer's Sampler answers.
            measured = getattr(next(experiments).data, "counts", None) or {"0x0": shots}
            counts.append(bitstrings.counts(measured))
        outcomes[i].counts = counts
        outcomes[i].distributions = [frequencies(c) for c in counts]


def ran(
    backend: AerSimulator,
    circuits: list[QuantumCircuit],
    binds: list[dict[Parameter, np.ndarray]],
    **run_options: Any,
) -> Result:
    """`backend.run(...).result()` in this thread: `run` hands the work to Aer's own thread
    pool and this thread waits for it, two context switches that cost a small job 0.15-0.3 ms
    (the same circuits, options and seed: the same results)."""
    execute = getattr(backend, "_execute_circuits_job", None)
    if execute is None:  # an Aer without it: its public path
        return backend.run(circuits, parameter_binds=binds, **run_options).result()
    result: Result = execute(circuits, binds, run_options)
    return result


def _succeeded(result: Result) -> list[Any]:
    """The experiments of a finished run, or the simulator's own error (e.g. out of memory)."""
    from qiskit_aer import AerError

    if not result.success:
        errors = [str(e.status) for e in result.results if not e.success] or [str(result.status)]
        raise AerError(f"Aer simulation failed: {'; '.join(errors)}")
    return list(result.results)


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

    # One simulator run per circuit: an experiment per parameter set (`estimator_pub`).
    estimated = [p for p in plan.circuits if p.observables is not None]
    experiments = min((_experiments(p) for p in estimated), default=1)
    circuits = (p.circuit for p in plan.circuits)
    run_options: dict[str, Any] = threads_for(plan.executor_id, circuits, experiments)
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
        binds.append(_binds(prepared))
    experiments = sum(_experiments(plan.circuits[i]) for i in indices)
    threads = threads_for(plan.executor_id, circuits, experiments)
    result = ran(simulator(plan.executor_id), circuits, binds, **threads)
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


def _experiments(prepared: Prepared) -> int:
    """Aer's experiments for a circuit's parameter sets: one per set, one when none is bound."""
    return int(prepared.values.shape[0]) if prepared.values.shape[1] else 1


def _binds(prepared: Prepared) -> dict[Parameter, np.ndarray]:
    """Aer's `parameter_binds` entry: every set's value of each parameter."""
    return {p: prepared.values[:, j] for j, p in enumerate(prepared.circuit.parameters)}


def _probabilities(state: np.ndarray, width: int) -> dict[str, float]:
    probabilities = np.abs(state) ** 2
    return {
        format(int(k), f"0{width}b"): float(probabilities[k]) for k in np.flatnonzero(probabilities)
    }
