"""Runs tasks on the local simulators (Qiskit Aer); called inside worker processes.

Everything public is a module-level function so it pickles by reference. Qiskit is imported
lazily, so importing this module is cheap; `warm_up` pays the imports in a fresh worker.
Per process we cache the simulators (a noisy one costs seconds to build) and one pass manager per
(device, optimization level, transpiler seed). A job transpiles each circuit once and makes at
most one Sampler call and one Estimator call (one PUB per circuit, all parameter sets
broadcast), or one statevector `run` for a StatevectorRun.

Shot noise on expectation values: Aer's EstimatorV2 computes the exact expectation value (with
the noise model, if any) and adds a sample of N(0, precision); we use precision = 1/sqrt(shots),
the standard error of a Pauli estimate from `shots` samples in the worst case.

Error mitigation (`use_mitigation`) applies only to a Run on a noisy device: readout-error
mitigation (mthree) of the distributions and zero-noise extrapolation (folding + mitiq) of the
expectation values, see `qorch.adapters.providers.pipeline.mitigation`, imported only then. `metadata["mitigation"]`
says what was applied: a dict per technique, or a string saying why nothing was ("none",
"none (noiseless simulator)", "none (exact statevector)").
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.local.catalogue import (
    DEFAULT_MAX_DENSE_QUBITS,
    FAKE_BACKENDS,
    aer_method,
    fake_backend,
    find_local_device,
    ideal_simulator,
)
from qorch.adapters.providers.pipeline.circuits import (
    has_measurements,
    load_circuit,
    option_integer,
    parameter_array,
    pauli_operators,
    values_kept_by,
)
from qorch.adapters.providers.pipeline.counts import counts_per_set
from qorch.adapters.providers.pipeline.shape import transpiled_shape
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitOutcome,
    CircuitTask,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
)

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp
    from qiskit.transpiler import StagedPassManager
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import EstimatorV2

    from qorch.adapters.providers.pipeline.mitigation import ReadoutReport, ZneSettings

SUPPORTED_OPTIONS = ("seed_simulator", "optimization_level", "seed_transpiler")
DEFAULT_OPTIMIZATION_LEVEL = 1
STATEVECTOR_DEVICE = "aer_simulator_statevector"
"""StatevectorRun is always ideal and dense, whatever the device."""

# Wall-time model for estimates, order of magnitude only (fitted on a 2-core machine): a gate
# costs _AMPLITUDE_SECONDS per amplitude it touches, so does each Pauli term of an observable;
# each parameter set adds _SET_SECONDS of overhead, each shot _SHOT_SECONDS (Aer's sampler
# returns every shot as a string), each job _JOB_SECONDS.
_AMPLITUDE_SECONDS = 2e-9
_SET_SECONDS = 2e-4
_SHOT_SECONDS = 3e-6
_JOB_SECONDS = 0.02
_MAX_SEED = 2**63 - 1  # Aer takes a 64-bit seed


@dataclass(frozen=True)
class _Options:
    seed_simulator: int | None
    optimization_level: int
    seed_transpiler: int | None


@dataclass(frozen=True)
class _Mitigation:
    label: str
    """What the metadata says when nothing is applied."""
    zne: ZneSettings | None = None
    """Set when mitigating (a noisy Run): ZNE settings for the observables; the distributions
    get readout-error mitigation."""

    @property
    def active(self) -> bool:
        return self.zne is not None


@dataclass
class _Prepared:
    """One circuit ready to execute."""

    circuit: QuantumCircuit
    """Transpiled (ISA) circuit; final measurements removed unless sampling."""
    values: np.ndarray
    """(P, k): parameter sets in `circuit.parameters` order (transpiling may drop some)."""
    observables: list[SparsePauliOp] | None
    """Laid out on the transpiled circuit's qubits."""
    width: int
    shape: dict[str, int]


@dataclass
class _Plan:
    device: Device
    method: str
    executor_id: str
    options: _Options
    circuits: list[_Prepared]
    transpile_seconds: float
    mitigation: _Mitigation


def run_task(
    task: ExecutionTask, *, max_dense_qubits: int = DEFAULT_MAX_DENSE_QUBITS
) -> ExecutionOutcome:
    plan = _plan(task, max_dense_qubits)
    outcomes = [CircuitOutcome(transpiled=c.shape) for c in plan.circuits]
    metadata: dict[str, Any] = {
        "device": plan.device.id,
        "simulator_method": plan.method,
        "noisy": plan.device.noisy and task.run_type == "Run",
        "shots": task.shots if task.run_type == "Run" else None,
        "optimization_level": plan.options.optimization_level,
        "transpile_seconds": plan.transpile_seconds,
        "mitigation": plan.mitigation.label,
    }
    if plan.options.seed_simulator is not None:
        metadata["seed_simulator"] = plan.options.seed_simulator
    estimated = [i for i, c in enumerate(plan.circuits) if c.observables is not None]
    others = [i for i, c in enumerate(plan.circuits) if c.observables is None]
    applied: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        if estimated:
            precision = 0.0 if task.run_type == "StatevectorRun" else 1 / math.sqrt(task.shots)
            metadata["precision"] = precision
            _estimate(plan, estimated, precision, outcomes, applied)
        if others and task.run_type == "Run":
            _sample(plan, others, task.shots, outcomes, applied)
        elif others:
            _statevectors(plan, others, outcomes)
    except ProviderError:
        raise
    except Exception as error:
        raise ProviderError("simulation_failed", f"{type(error).__name__}: {error}") from error
    metadata["execution_seconds"] = time.perf_counter() - started
    if applied:
        metadata["mitigation"] = applied
    return ExecutionOutcome(circuits=outcomes, metadata=metadata)


def estimate_task(
    task: ExecutionTask, *, max_dense_qubits: int = DEFAULT_MAX_DENSE_QUBITS
) -> CostEstimate:
    """Transpiles like a run would and prices simulation time with the model above (0 USD)."""
    plan = _plan(task, max_dense_qubits)
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
            " + 3us/shot; per observable term: amplitudes x 2ns",
        },
    )


def warm_up() -> None:
    """Pays imports and first-use costs so a fresh worker process answers at full speed."""
    import qiskit_aer.primitives  # noqa: F401
    import qiskit_ibm_runtime.fake_provider  # noqa: F401
    import qiskit_qasm3_import  # noqa: F401

    run_task(
        ExecutionTask(
            job_id="warm-up",
            device_id="aer_simulator",
            run_type="Run",
            shots=16,
            circuits=(CircuitTask(source=_BELL),),
        )
    )


_BELL = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""


# --- preparation -------------------------------------------------------------------------------


def _plan(task: ExecutionTask, max_dense_qubits: int) -> _Plan:
    device = find_local_device(task.device_id, max_dense_qubits)
    if device is None:
        raise ProviderError("unknown_device", f"device {task.device_id!r} is not a local simulator")
    options = _parse_options(task.options)
    mitigation = _mitigation_for(device, task.run_type, task.use_mitigation, task.options)
    if task.run_type == "Run":
        if task.shots < 1:
            raise ProviderError("invalid_shots", "shots must be at least 1")
        executor_id, capacity = device.id, device.qubits
        method = "automatic" if device.noisy else aer_method(device.id)
    else:
        executor_id, capacity = STATEVECTOR_DEVICE, min(device.qubits, max_dense_qubits)
        method = "statevector"
    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    pass_manager = _pass_manager(executor_id, options.optimization_level, options.seed_transpiler)
    circuits: list[_Prepared] = []
    transpile_seconds = 0.0
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        circuit = load_circuit(circuit_task.source, where)
        values = parameter_array(circuit, circuit_task.parameter_sets, where)
        estimating = bool(circuit_task.observables)
        if estimating or task.run_type == "StatevectorRun":
            circuit = circuit.remove_final_measurements(inplace=False)
            if task.run_type == "StatevectorRun" and has_measurements(circuit):
                raise ProviderError(
                    "unsupported_circuit",
                    f"{where}: StatevectorRun needs a circuit without mid-circuit measurements",
                )
        elif not has_measurements(circuit):
            raise ProviderError(
                "no_measurements",
                f"{where}: the circuit measures nothing; add measurements or give observables",
            )
        if circuit.num_qubits > capacity:
            raise ProviderError(
                "device_too_small",
                f"{where}: {circuit.num_qubits} qubits, but {device.id} runs at most {capacity}"
                + (" for StatevectorRun" if task.run_type == "StatevectorRun" else ""),
            )
        specs = circuit_task.observables if estimating else None
        observables = pauli_operators(specs, circuit.num_qubits, where) if specs else None
        started = time.perf_counter()
        try:
            isa = pass_manager.run(circuit)
        except Exception as error:
            raise ProviderError("transpile_failed", f"{where}: {error}") from error
        transpile_seconds += time.perf_counter() - started
        if observables is not None:
            observables = [obs.apply_layout(isa.layout) for obs in observables]
        circuits.append(
            _Prepared(
                circuit=isa,
                values=values_kept_by(values, circuit, isa),
                observables=observables,
                width=circuit.num_qubits,
                shape=transpiled_shape(isa),
            )
        )
    return _Plan(device, method, executor_id, options, circuits, transpile_seconds, mitigation)


def _parse_options(options: dict[str, Any]) -> _Options:
    for name in options:
        if name not in SUPPORTED_OPTIONS and name not in _mitigation_options():
            raise ProviderError(
                "unsupported_option",
                f"options.{name}: not supported by local simulators (supported: "
                f"{', '.join(SUPPORTED_OPTIONS + _mitigation_options())}, the last ones only "
                "with use_mitigation on a noisy simulator)",
                field=f"options.{name}",
            )

    level = option_integer(options, "optimization_level", 3)
    return _Options(
        seed_simulator=option_integer(options, "seed_simulator", _MAX_SEED),
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
        seed_transpiler=option_integer(options, "seed_transpiler", _MAX_SEED),
    )


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    """What a run would refuse, checked before the job is recorded."""
    _parse_options(options)
    _mitigation_for(device, run_type, mitigate, options)


def _mitigation_options() -> tuple[str, ...]:
    from qorch.adapters.providers.pipeline.mitigation import ZNE_OPTIONS

    return ZNE_OPTIONS


def _mitigation_for(
    device: Device, run_type: str, mitigate: bool, options: dict[str, Any]
) -> _Mitigation:
    if mitigate and device.noisy and run_type == "Run":
        from qorch.adapters.providers.pipeline.mitigation import zne_settings

        return _Mitigation("applied", zne_settings(options))
    if not mitigate:
        label = "none"
    elif run_type == "StatevectorRun":
        label = "none (exact statevector)"
    else:
        label = "none (noiseless simulator)"
    for name in options:
        if name not in SUPPORTED_OPTIONS:  # _parse_options let only mitigation options through
            raise ProviderError(
                "unsupported_option",
                f"options.{name}: only with use_mitigation on a noisy simulator's Run",
                field=f"options.{name}",
            )
    return _Mitigation(label)


# --- per-process caches ------------------------------------------------------------------------


@functools.cache
def _noisy_simulator(device_id: str) -> AerSimulator:
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(fake_backend(device_id))


def _simulator(device_id: str) -> AerSimulator:
    if device_id in FAKE_BACKENDS:
        return _noisy_simulator(device_id)
    return ideal_simulator(aer_method(device_id))


@functools.cache
def _pass_manager(
    device_id: str, optimization_level: int, seed_transpiler: int | None
) -> StagedPassManager:
    from qiskit.transpiler import generate_preset_pass_manager

    return generate_preset_pass_manager(
        optimization_level=optimization_level,
        backend=_simulator(device_id),
        seed_transpiler=seed_transpiler,
    )


# --- execution ---------------------------------------------------------------------------------


def _sample(
    plan: _Plan,
    indices: list[int],
    shots: int,
    outcomes: list[CircuitOutcome],
    applied: dict[str, Any],
) -> None:
    from qiskit.primitives import BitArray
    from qiskit_aer.primitives import SamplerV2

    sampler = SamplerV2.from_backend(_simulator(plan.executor_id), seed=plan.options.seed_simulator)
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
        outcomes[i].distributions = [{k: v / shots for k, v in c.items()} for c in counts]
    if plan.mitigation.active:
        applied["readout"] = _mitigate_readout(plan, indices, outcomes).metadata()


def _mitigate_readout(
    plan: _Plan, indices: list[int], outcomes: list[CircuitOutcome]
) -> ReadoutReport:
    """Replaces the distributions by readout-mitigated ones; counts stay as measured."""
    from qorch.adapters.providers.pipeline.mitigation import (
        ReadoutReport,
        correct_readout,
        measured_qubits,
    )

    report = ReadoutReport(circuits=[], skipped={}, qubits={})
    simulator = _simulator(plan.executor_id)
    for i in indices:
        qubits = measured_qubits(plan.circuits[i].circuit)
        if isinstance(qubits, str):
            report.skipped[str(i)] = qubits
            continue
        counts = outcomes[i].counts
        assert counts is not None
        outcomes[i].distributions = correct_readout(
            simulator, plan.executor_id, qubits, counts, report
        )
        report.circuits.append(i)
        report.qubits[str(i)] = qubits
    return report


def _estimate(
    plan: _Plan,
    indices: list[int],
    precision: float,
    outcomes: list[CircuitOutcome],
    applied: dict[str, Any],
) -> None:
    zne = plan.mitigation.zne
    if zne is not None:
        _estimate_zne(plan, zne, indices, precision, outcomes, applied)
        return
    pubs = [_estimator_pub(plan.circuits[i]) for i in indices]
    results = _estimator(plan).run(pubs, precision=precision).result()
    for i, result in zip(indices, results, strict=True):
        outcomes[i].expectation_values = np.asarray(result.data.evs, dtype=float).tolist()
        outcomes[i].standard_errors = np.asarray(result.data.stds, dtype=float).tolist()


def _estimator(plan: _Plan) -> EstimatorV2:
    from qiskit_aer.primitives import EstimatorV2

    run_options = {}
    if plan.options.seed_simulator is not None:
        run_options["seed_simulator"] = plan.options.seed_simulator
    return EstimatorV2.from_backend(
        _simulator(plan.executor_id), options={"run_options": run_options}
    )


def _estimator_pub(prepared: _Prepared, circuit: QuantumCircuit | None = None) -> tuple[Any, ...]:
    """One PUB whose results are (O, P); `circuit` replaces the prepared one (same parameters)."""
    circuit = prepared.circuit if circuit is None else circuit
    assert prepared.observables is not None
    sets = prepared.values.shape[0]
    if prepared.values.shape[1]:
        # (O, 1) observables broadcast against (P, k) values -> (O, P)
        return (circuit, [[o] for o in prepared.observables], prepared.values)
    # No parameters left: repeat observables so each entry still gets its own noise.
    return (circuit, [[o] * sets for o in prepared.observables])


def _estimate_zne(
    plan: _Plan,
    zne: ZneSettings,
    indices: list[int],
    precision: float,
    outcomes: list[CircuitOutcome],
    applied: dict[str, Any],
) -> None:
    """Zero-noise extrapolation: every scale factor of every circuit in one Estimator call,
    exact noisy values (precision 0) plus our own independent shot noise per scale factor."""
    from qorch.adapters.providers.pipeline.mitigation import (
        extrapolate,
        folded_circuits,
        zne_metadata,
    )

    # Level 0 on the same device: trivial layout on the physical qubits, nothing cancelled.
    translate = _pass_manager(plan.executor_id, 0, None).run
    scales = len(zne.scale_factors)
    pubs: list[tuple[Any, ...]] = []
    for i in indices:
        prepared = plan.circuits[i]
        try:
            folded = folded_circuits(prepared.circuit, zne.scale_factors, translate)
        except ValueError as error:
            raise ProviderError(
                "unsupported_circuit", f"circuits[{i}]: zero-noise extrapolation: {error}"
            ) from error
        pubs.extend(_estimator_pub(prepared, circuit) for circuit in folded)
    results = _estimator(plan).run(pubs, precision=0.0).result()
    rng = np.random.default_rng(plan.options.seed_simulator)
    fallbacks = 0
    for n, i in enumerate(indices):
        prepared = plan.circuits[i]
        assert prepared.observables is not None
        exact = np.stack(
            [np.asarray(r.data.evs, dtype=float) for r in results[n * scales : (n + 1) * scales]]
        )
        bounds = np.array([float(np.abs(o.coeffs).sum()) for o in prepared.observables])
        values, errors, failed = extrapolate(zne, exact, precision, rng, bounds)
        fallbacks += failed
        outcomes[i].expectation_values = values.tolist()
        outcomes[i].standard_errors = errors.tolist()
    applied["zne"] = zne_metadata(zne, indices, fallbacks)


def _statevectors(plan: _Plan, indices: list[int], outcomes: list[CircuitOutcome]) -> None:
    from qiskit_aer.library import SaveStatevector

    circuits, binds = [], []
    for i in indices:
        prepared = plan.circuits[i]
        circuit = prepared.circuit.copy()
        circuit.append(SaveStatevector(circuit.num_qubits), circuit.qubits)
        circuits.append(circuit)
        binds.append({p: prepared.values[:, j] for j, p in enumerate(prepared.circuit.parameters)})
    result = _simulator(STATEVECTOR_DEVICE).run(circuits, parameter_binds=binds).result()
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


def _circuit_seconds(task: ExecutionTask, plan: _Plan, prepared: _Prepared) -> float:
    shape = prepared.shape
    n, gates = shape["qubits"], shape["gates_1q"] + shape["gates_2q"]
    sets = prepared.values.shape[0]
    shots = task.shots if task.run_type == "Run" and prepared.observables is None else 0
    amplitudes = {
        "density_matrix": 4.0**n,
        "matrix_product_state": 64.0 * n,  # assumes a modest bond dimension
        "stabilizer": float(n),
    }.get(plan.method, 2.0**n)
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
    expectations = terms * 2.0**n * _AMPLITUDE_SECONDS
    return sets * (per_set + expectations)
