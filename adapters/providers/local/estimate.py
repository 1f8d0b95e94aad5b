"""Dry runs of local jobs: transpiled like a run would be, simulation time priced with a
wall-time model (order of magnitude only, fitted on a 2-core machine), 0 USD.

A gate costs _AMPLITUDE_SECONDS per amplitude it touches, so does each Pauli term of an
observable; each parameter set adds _SET_SECONDS of overhead, each shot _SHOT_SECONDS (Aer draws
and counts every shot: about 2 us with few distinct outcomes, up to 5 us with thousands), each job
_JOB_SECONDS.
"""

from __future__ import annotations

from qorch.adapters.providers.local.plan import Plan, Prepared
from qorch.domain.execution import CostEstimate, ExecutionTask

_AMPLITUDE_SECONDS = 2e-9
_SET_SECONDS = 2e-4
_SHOT_SECONDS = 2e-6
_JOB_SECONDS = 0.02


def estimate(task: ExecutionTask, plan: Plan) -> CostEstimate:
    per_circuit = [
        _JOB_SECONDS / len(plan.circuits) + _circuit_seconds(task, plan, c) for c in plan.circuits
    ]
    return CostEstimate(
        seconds=sum(per_circuit),
        usd=0.0,
        circuits=[c.shape for c in plan.circuits],
        breakdown={
            "device": plan.device.id,
            "simulator_method": plan.method,
            "per_circuit_seconds": per_circuit,
            "transpile_seconds": plan.transpile_seconds,
            "model": "per set: gates x amplitudes x 2ns (x trajectories if noisy) + 0.2ms"
            " + 2us/shot; per observable term: amplitudes x 2ns",
        },
    )


def _circuit_seconds(task: ExecutionTask, plan: Plan, prepared: Prepared) -> float:
    shape = prepared.shape
    n, gates = shape["qubits"], shape["gates_1q"] + shape["gates_2q"]
    sets = prepared.values.shape[0]
    shots = task.shots if task.run_type == "Run" and prepared.observables is None else 0
    state = {
        "density_matrix": 4.0**n,
        "matrix_product_state": 64.0 * n,  # assumes a modest bond dimension
        "stabilizer": float(n),
    }.get(plan.method.removesuffix("_gpu"), 2.0**n)  # a GPU holds the same state
    amplitudes = state
    if plan.device.noisy and task.run_type == "Run":
        # Noise runs one trajectory per shot, or evolves the density matrix if cheaper.
        amplitudes = min(max(shots, 1) * 2.0**n, 4.0**n)
    zne = plan.mitigation.zne
    if zne is not None and prepared.observables is not None:
        gates *= sum(zne.scale_factors)  # one run per scale factor, folded to that many times
    per_set = gates * amplitudes * _AMPLITUDE_SECONDS + _SET_SECONDS + shots * _SHOT_SECONDS
    terms = sum(len(o) for o in prepared.observables or [])
    if zne is not None and prepared.observables is not None:
        terms *= len(zne.scale_factors)
    # A Pauli term reads the diagonal of a density matrix, every site of an MPS.
    expectations = terms * min(state, 2.0**n) * _AMPLITUDE_SECONDS
    return sets * (per_set + expectations)
