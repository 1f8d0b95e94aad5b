"""Dry runs: transpiled to the device's native gates and coupling (static data) and priced with
the price table for the tasks a submit would make (program sets of up to the catalogue's
executables each, as `packing` packs them); AWS is never called. Local simulators: 0 USD and an
estimated wall time."""

from __future__ import annotations

from qorch.adapters.providers.braket.catalogue import Spec
from qorch.adapters.providers.braket.options import check_debias_shots, mitigation, parse_options
from qorch.adapters.providers.braket.packing import pack
from qorch.adapters.providers.braket.programs import LoadedCircuit, load_task, transpile
from qorch.adapters.providers.pipeline.passes import pass_manager
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.adapters.providers.pipeline.shape import transpiled_shape
from qorch.domain.execution import CostEstimate, ExecutionTask
from qorch.domain.pricing import CircuitCost, estimate_cost

# Wall-time model of the local simulators, order of magnitude only: a task costs _TASK_SECONDS,
# each gate touches every amplitude (2^n state vector, 4^n density matrix), each shot is sampled.
_TASK_SECONDS = 5e-3
_AMPLITUDE_SECONDS = 5e-9
_SHOT_SECONDS = 2e-6


def estimate(task: ExecutionTask, spec: Spec) -> CostEstimate:
    options = parse_options(task.options)
    mitigated = mitigation(spec, task.run_type, task.use_mitigation)
    if mitigated == "debias":
        check_debias_shots(task.shots)
    passes = pass_manager(
        options.optimization_level,
        options.seed_transpiler,
        basis_gates=spec.native_gates,
        coupling=spec.coupling,
    )
    loaded = load_task(task, spec)
    costs = [
        CircuitCost(
            transpiled_shape(transpile(circuit.measured[0], passes, f"circuits[{index}]")),
            executions=len(circuit.values) * len(circuit.measured),
        )
        for index, circuit in enumerate(loaded)
    ]
    executions = sum(cost.executions for cost in costs)
    sets = _program_sets(task, spec, loaded, debiased=mitigated is not None)
    tasks = executions if sets is None else sets
    if spec.price_key is None:
        return _local_estimate(task, spec, costs, tasks)
    priced = estimate_cost(
        load_prices(),
        spec.price_key,
        task.shots,
        costs,
        mitigated=mitigated is not None,
        tasks=sets,
    )
    priced.breakdown.update(
        {
            "device": spec.id,
            "device_arn": spec.arn,
            "tasks": tasks,
            "program_sets": sets is not None,
            "native_gates": list(spec.native_gates),
            "coupling_map": "approximate square lattice" if spec.coupling else "all-to-all",
            "mitigation": mitigated or "none",
        }
    )
    return priced


def _program_sets(
    task: ExecutionTask, spec: Spec, loaded: list[LoadedCircuit], debiased: bool
) -> int | None:
    """The program-set tasks a submit would make; None: one task per execution."""
    if debiased or task.run_type == "StatevectorRun":
        return None
    work = [
        (len(circuit.values), [bool(measured.parameters) for measured in circuit.measured])
        for circuit in loaded
    ]
    chunks = pack(work, task.shots, spec.program_sets)
    return None if chunks is None else len(chunks)


def _local_estimate(
    task: ExecutionTask, spec: Spec, costs: list[CircuitCost], tasks: int
) -> CostEstimate:
    dense = 4.0 if spec.local_backend == "braket_dm" else 2.0
    shots = 0 if task.run_type == "StatevectorRun" else task.shots
    per_circuit = [
        cost.executions
        * (
            _TASK_SECONDS
            + (cost.shape["gates_1q"] + cost.shape["gates_2q"])
            * dense ** cost.shape["qubits"]
            * _AMPLITUDE_SECONDS
            + shots * _SHOT_SECONDS
        )
        for cost in costs
    ]
    return CostEstimate(
        seconds=sum(per_circuit),
        usd=0.0,
        circuits=[cost.shape for cost in costs],
        breakdown={
            "device": spec.id,
            "simulator": spec.local_backend,
            "tasks": tasks,
            "per_circuit_seconds": per_circuit,
            "model": "per task: 5 ms + gates x amplitudes x 5 ns + shots x 2 us (local, free)",
        },
    )
