"""Braket's local simulators (braket_sv, braket_dm): no account, no network. Shots are run in
program sets within the simulator's own limits, as a QPU runs them (its engine answers the raw
ProgramSetTaskResult a QPU's results.json holds); a state vector, program by program."""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any

from qorch.adapters.providers.braket.catalogue import PROVIDER, Spec
from qorch.adapters.providers.braket.options import parse_options
from qorch.adapters.providers.braket.packing import (
    Slice,
    executables,
    limits_of,
    pack,
    program_set,
    work_of,
)
from qorch.adapters.providers.braket.programs import (
    LoadedCircuit,
    Program,
    input_index,
    load_task,
    programs,
)
from qorch.adapters.providers.braket.results import (
    Execution,
    Key,
    Layout,
    Measured,
    assemble,
    one_task_each,
)
from qorch.adapters.providers.braket.set_results import executions
from qorch.adapters.providers.pipeline.circuits import pauli_operators
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome, ExecutionTask, ProviderError


@functools.cache
def _simulator(backend: str) -> Any:
    from braket.devices import LocalSimulator

    return LocalSimulator(backend)


@functools.cache
def _engine(backend: str) -> Any:
    """The BraketSimulator LocalSimulator(backend) delegates to: it answers raw results."""
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="braket.simulators") if e.name == backend]
    return entry.load()()


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
    tasks = sum(len(circuit.values) * len(ps) for circuit, ps in pairs)
    try:
        if statevector:
            outcomes = [_statevector_outcome(backend, circuit, ps[0]) for circuit, ps in pairs]
        else:
            chunks = pack(
                work_of(loaded, circuit_programs),
                task.shots,
                limits_of(_simulator(backend).properties),
            )
            layouts = [Layout.of(circuit, ps) for circuit, ps in pairs]
            found = (
                _one_each(backend, layouts, loaded, circuit_programs, task.shots)
                if chunks is None
                else _in_sets(backend, chunks, loaded, circuit_programs, task.shots)
            )
            outcomes = assemble(layouts, found)
            tasks = len(found) if chunks is None else len(chunks)
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
            "braket_tasks": tasks,
            "optimization_level": options.optimization_level,
            "transpile_seconds": transpile_seconds,
            "execution_seconds": time.perf_counter() - started,
        },
    )


def _one_each(
    backend: str,
    layouts: list[Layout],
    loaded: list[LoadedCircuit],
    circuit_programs: list[list[Program]],
    shots: int,
) -> dict[Key, Execution]:
    return {
        (c, g, s): Measured.of_task(
            _run_program(backend, circuit_programs[c][g], loaded[c].values[s], shots)
        )
        for c, g, s in one_task_each(layouts)
    }


def _in_sets(
    backend: str,
    chunks: list[list[Slice]],
    loaded: list[LoadedCircuit],
    circuit_programs: list[list[Program]],
    shots: int,
) -> dict[Key, Execution]:
    found: dict[Key, Execution] = {}
    for chunk in chunks:
        action = program_set(chunk, loaded, circuit_programs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = _engine(backend).run(action, shots=shots * executables(chunk))
        found.update(executions(result, chunk))
    return found


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
