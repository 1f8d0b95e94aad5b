"""Braket's local simulators (braket_sv, braket_dm): no account, no network."""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any

from qorch.adapters.providers.braket.catalogue import PROVIDER, Spec
from qorch.adapters.providers.braket.options import parse_options
from qorch.adapters.providers.braket.programs import (
    LoadedCircuit,
    Program,
    input_index,
    load_task,
    programs,
)
from qorch.adapters.providers.braket.results import Layout, collect
from qorch.adapters.providers.pipeline.circuits import pauli_operators
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome, ExecutionTask, ProviderError


@functools.cache
def _simulator(backend: str) -> Any:
    from braket.devices import LocalSimulator

    return LocalSimulator(backend)


def _run_program(backend: str, program: Program, values: tuple[float, ...], shots: int) -> Any:
    from braket.ir.openqasm import Program as BraketProgram

    with warnings.catch_warnings():
        # braket_dm warns that a noise-free circuit would be cheaper on braket_sv.
        warnings.simplefilter("ignore", UserWarning)
        task = _simulator(backend).run(
            BraketProgram(source=program.source, inputs=program.bound_inputs(values)), shots=shots
        )
        return task.result()


def run_locally(task: ExecutionTask, spec: Spec) -> ExecutionOutcome:
    backend = spec.local_backend
    if backend is None:
        raise ProviderError("invalid_task", f"{spec.id} runs at AWS: submit it, do not run it")
    options = parse_options(task.options)
    statevector = task.run_type == "StatevectorRun"
    started = time.perf_counter()
    loaded = load_task(task, spec)
    circuit_programs = programs(loaded, spec, options, statevector)
    transpile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    pairs = list(zip(loaded, circuit_programs, strict=True))
    try:
        if statevector:
            outcomes = [_statevector_outcome(backend, circuit, ps[0]) for circuit, ps in pairs]
        else:
            results = (
                _run_program(backend, program, values, task.shots)
                for circuit, ps in pairs
                for values in circuit.values
                for program in ps
            )
            outcomes = collect([Layout.of(circuit, ps) for circuit, ps in pairs], results)
    except ProviderError:
        raise
    except Exception as error:
        raise ProviderError("simulation_failed", f"{type(error).__name__}: {error}") from error
    return ExecutionOutcome(
        circuits=outcomes,
        metadata={
            "device": spec.id,
            "provider": PROVIDER,
            "simulator": backend,
            "shots": None if statevector else task.shots,
            "mitigation": "none",
            "braket_tasks": sum(len(circuit.values) * len(ps) for circuit, ps in pairs),
            "optimization_level": options.optimization_level,
            "transpile_seconds": transpile_seconds,
            "execution_seconds": time.perf_counter() - started,
        },
    )


def _statevector_outcome(backend: str, circuit: LoadedCircuit, program: Program) -> CircuitOutcome:
    import numpy as np
    from qiskit.quantum_info import Statevector

    width = circuit.width
    states = []
    for values in circuit.values:
        result = _run_program(backend, program, values, 0)
        braket_state = np.asarray(result.values[0], dtype=complex)
        # Braket: qubit 0 is the most significant bit; Qiskit: the least significant.
        state = braket_state.reshape([2] * width).transpose(list(range(width))[::-1]).reshape(-1)
        states.append(state * np.exp(1j * _bound_phase(program, values)))
    outcome = CircuitOutcome(transpiled=program.shape)
    if circuit.observables:
        operators = pauli_operators(circuit.observables, width, "circuits")
        outcome.expectation_values = [
            [float(Statevector(state).expectation_value(operator).real) for state in states]
            for operator in operators
        ]
        outcome.standard_errors = [[0.0] * len(states) for _ in operators]
    else:
        outcome.statevectors = [(s.real.tolist(), s.imag.tolist()) for s in states]
        outcome.probabilities = [_probabilities(state, width) for state in states]
    return outcome


def _bound_phase(program: Program, values: tuple[float, ...]) -> float:
    from qiskit.circuit import ParameterExpression

    phase = program.global_phase
    if isinstance(phase, ParameterExpression):
        bound = {p: values[input_index(p.name)] for p in phase.parameters}
        return float(phase.bind(bound, allow_unknown_parameters=True))
    return float(phase)


def _probabilities(state: Any, width: int) -> dict[str, float]:
    import numpy as np

    probabilities = np.abs(state) ** 2
    return {
        format(int(k), f"0{width}b"): float(probabilities[k])
        for k in np.flatnonzero(probabilities > 1e-14)
    }
