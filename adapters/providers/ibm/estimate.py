"""Dry runs: transpiled to the calibration snapshot and priced offline; IBM is never called.

IBM bills the seconds the QPU is locked for a job: a fixed overhead plus shots x (repetition
delay + circuit duration) for every execution (parameter set x measurement basis x ZNE noise
factor). With the shared price model (`task_overhead + shots x (shot_overhead + duration)` per
CircuitCost execution) each circuit is passed as ONE execution whose per-shot duration folds all
its executions in, and the overhead is paid once per IBM job: one job per primitive the task
needs (the Sampler for measured circuits, the Estimator for observables), as client.py submits;
calibration executions are folded into the first circuit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.ibm.catalogue import (
    PRICE_KEY,
    fake_backend,
    hardware,
    snapshot_name,
)
from qorch.adapters.providers.ibm.circuits import (
    Prepared,
    load_task,
    measurement_bases,
    transpile,
)
from qorch.adapters.providers.ibm.options import Mitigation, mitigation, parse_options
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionTask
from qorch.domain.pricing import CircuitCost, estimate_cost

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

ZNE_NOISE_FACTORS = (1, 3, 5)
"""qiskit-ibm-runtime's default ZNE noise factors (resilience level 2)."""

# Wall-time model of local-mode runs (orders of magnitude, measured on a 2-core machine): a job
# costs about 0.1 s of primitive overhead (twirling/TREX preparation, Aer start), a gate about
# 2 ns per amplitude it touches (noisy: per trajectory, one per shot, or the density matrix).
_LOCAL_JOB_SECONDS = 0.1
_LOCAL_AMPLITUDE_SECONDS = 2e-9
_LOCAL_SHOT_SECONDS = 3e-6


def estimate(task: ExecutionTask, device: Device) -> CostEstimate:
    found, remote = hardware(device)
    options = parse_options(task.options, device)
    wanted = mitigation(options, task.use_mitigation)
    backend = fake_backend(found.fake_class)
    prepared, transpile_seconds = transpile(
        load_task(task, device), backend, options, snapshot=True
    )
    bases = [measurement_bases(p.labels) if p.observables is not None else 0 for p in prepared]
    noise_factors = len(ZNE_NOISE_FACTORS) if wanted.resilience_level >= 2 else 1
    executions = [
        p.sets if p.observables is None else p.sets * count * noise_factors
        for p, count in zip(prepared, bases, strict=True)
    ]
    durations = [_duration(p, backend) for p in prepared]
    breakdown: dict[str, Any] = {
        "device": device.id,
        "calibration_snapshot": snapshot_name(found),
        "parameter_sets": [p.sets for p in prepared],
        "measurement_bases": bases,
        "executions_per_circuit": executions,
        "circuit_duration_seconds": durations,
        "optimization_level": options.optimization_level,
        "seed_transpiler": options.seed_transpiler,
        "transpile_seconds": transpile_seconds,
        "resilience_level": wanted.resilience_level
        if any(p.observables is not None for p in prepared)
        else None,
        "readout_calibration": wanted.readout and any(p.observables is None for p in prepared),
    }
    if not remote:
        seconds = _LOCAL_JOB_SECONDS + sum(
            e * _local_execution_seconds(p.shape, task.shots)
            for p, e in zip(prepared, executions, strict=True)
        )
        breakdown["model"] = (
            "local testing mode wall time: 0.1 s per job + per execution gates x "
            "min(shots x 2^n, 4^n) x 2 ns + 3 us per shot"
        )
        return CostEstimate(
            seconds=seconds, usd=0.0, circuits=[p.shape for p in prepared], breakdown=breakdown
        )
    prices = load_prices()
    shot_overhead = prices["entries"][PRICE_KEY]["time"]["shot_overhead_seconds"]
    extra = _calibration_executions(prepared, wanted)
    costs = [
        _circuit_cost(p.shape, e, d, shot_overhead)
        for p, e, d in zip(prepared, executions, durations, strict=True)
    ]
    if extra:
        first = costs[0]
        folded = extra * (_measure_seconds(backend) + shot_overhead)
        costs[0] = CircuitCost(
            first.shape, first.executions, (first.duration_seconds or 0.0) + folded
        )
    jobs = len({p.observables is None for p in prepared})
    cost = estimate_cost(
        prices, PRICE_KEY, task.shots, costs, mitigated=wanted.requested, tasks=jobs
    )
    breakdown["ibm_jobs"] = jobs
    breakdown["calibration_executions"] = extra
    breakdown["qpu_time_model"] = (
        "task_overhead once per IBM job (one per primitive) + per circuit: shots x executions x "
        "(shot_overhead + circuit duration); "
        "the circuit duration is the snapshot's (QuantumCircuit.estimate_duration), ZNE runs "
        f"{len(ZNE_NOISE_FACTORS)} noise factors with folded (longer) circuits at the same "
        "duration here, calibration executions (readout / TREX learning) are added to the first "
        "circuit"
    )
    cost.breakdown.update(breakdown)
    return cost


def _circuit_cost(
    shape: dict[str, int], executions: int, duration: float | None, shot_overhead: float
) -> CircuitCost:
    """One CircuitCost per circuit: its executions folded into the per-shot duration (the
    table's task overhead is then paid once per IBM job, `tasks`), while every execution pays
    shots x (shot_overhead + duration)."""
    if duration is None:
        return CircuitCost(shape=shape, executions=executions, duration_seconds=None)
    folded = executions * duration + (executions - 1) * shot_overhead
    return CircuitCost(shape=shape, executions=1, duration_seconds=folded)


def _calibration_executions(prepared: list[Prepared], wanted: Mitigation) -> int:
    extra = 0
    if wanted.readout and any(p.observables is None for p in prepared):
        extra += 2  # |0...0> and |1...1> calibration PUBs
    if wanted.resilience_level >= 1 and any(p.observables is not None for p in prepared):
        extra += 1  # TREX readout-noise learning, about one execution's worth of shots
    return extra


def _duration(p: Prepared, backend: BackendV2) -> float | None:
    """One shot's duration on the snapshot; the Estimator adds the readout (and a layer of
    basis changes, negligible) to circuits given without measurements."""
    try:
        duration = float(p.isa.estimate_duration(backend.target, "s"))
    except Exception:
        return None  # the price table's gate times are used instead
    if p.observables is not None:
        duration += _measure_seconds(backend)
    return duration


def _measure_seconds(backend: BackendV2) -> float:
    try:
        durations = [
            props.duration
            for props in backend.target["measure"].values()
            if props is not None and props.duration
        ]
    except KeyError:
        durations = []
    return float(max(durations)) if durations else 0.0


def _local_execution_seconds(shape: dict[str, int], shots: int) -> float:
    n, gates = shape["qubits"], shape["gates_1q"] + shape["gates_2q"]
    amplitudes = min(max(shots, 1) * 2.0**n, 4.0**n)
    return gates * amplitudes * _LOCAL_AMPLITUDE_SECONDS + shots * _LOCAL_SHOT_SECONDS
