"""Local simulators: the device catalogue and running tasks on Aer."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import build, client
from qorch.adapters.providers.local import catalogue as simulators
from qorch.adapters.providers.local.provider import LocalProvider
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitTask,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
)
from tests.adapters.aer_runs import noted_runs
from tests.conftest import BELL_QASM3, RY_CX, RY_MEASURED, RY_RX

BELL_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""

X_ON_QUBIT_0 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
x q[0];
c = measure q;
"""


OBSERVABLES = (
    ObservableSpec(("ZZ",), (1.0,)),
    ObservableSpec(("IX", "ZI", "YY"), (0.5, -1.0, 0.25)),
)
SETS_1 = ((0.1,), (1.3,), (2.9,))
SETS_2 = ((0.4, 2.0), (1.1, -0.7), (3.0, 0.2))


def task(
    *circuits: CircuitTask,
    device: str = "aer_simulator",
    run_type: str = "Run",
    shots: int = 4000,
    **options: Any,
) -> ExecutionTask:
    return ExecutionTask(
        job_id="job",
        device_id=device,
        run_type=run_type,  # type: ignore[arg-type]
        shots=shots,
        circuits=circuits,
        options=options,
    )


LOCAL = build(ProviderConfig())


def device_of(task: ExecutionTask, local: LocalProvider = LOCAL) -> Device:
    """The device the task names, as the catalogue lists it (a stand-in for an unknown id)."""
    found = simulators.find_local_device(task.device_id, local.config.max_dense_qubits)
    return found or replace(local.devices()[0], id=task.device_id)


def run_task(task: ExecutionTask, local: LocalProvider = LOCAL) -> ExecutionOutcome:
    return local.run(task, device_of(task, local), {})


def estimate_task(task: ExecutionTask) -> CostEstimate:
    return LOCAL.estimate(task, device_of(task))


def exact_expectations(source: str, sets: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """[observable][set] from qiskit.quantum_info, independent of the adapter."""
    circuit = qasm3.loads(source).remove_final_measurements(inplace=False)
    values = np.empty((len(OBSERVABLES), len(sets)))
    for p, parameter_set in enumerate(sets):
        state = Statevector(circuit.assign_parameters(parameter_set))
        for o, spec in enumerate(OBSERVABLES):
            operator = SparsePauliOp.from_list(
                list(zip(spec.paulis, spec.coefficients, strict=True))
            )
            values[o, p] = state.expectation_value(operator).real
    return values


def within_5_sigma(probability: float, expected: float, shots: int) -> bool:
    return abs(probability - expected) <= 5 * math.sqrt(expected * (1 - expected) / shots)


@pytest.mark.parametrize("source", [BELL_QASM2, BELL_QASM3], ids=["qasm2", "qasm3"])
def test_bell_counts_are_half_00_half_11(source: str) -> None:
    outcome = run_task(task(CircuitTask(source)))

    [circuit] = outcome.circuits
    assert circuit.counts is not None and circuit.distributions is not None
    [counts] = circuit.counts
    assert sum(counts.values()) == 4000
    assert set(counts) <= {"00", "11"}
    assert within_5_sigma(counts.get("00", 0) / 4000, 0.5, 4000)
    assert circuit.distributions[0] == {key: n / 4000 for key, n in counts.items()}
    assert circuit.transpiled == {"qubits": 2, "depth": 3, "gates_1q": 1, "gates_2q": 1}
    assert outcome.metadata["device"] == "aer_simulator"
    assert outcome.metadata["shots"] == 4000


def test_bit_order_rightmost_character_is_qubit_0() -> None:
    sampled = run_task(task(CircuitTask(X_ON_QUBIT_0)))
    exact = run_task(
        task(
            CircuitTask(X_ON_QUBIT_0, observables=(ObservableSpec(("IZ", "ZI"), (1.0, 0.0)),)),
            CircuitTask(X_ON_QUBIT_0, observables=(ObservableSpec(("ZI",), (1.0,)),)),
            run_type="StatevectorRun",
        )
    )

    assert sampled.circuits[0].distributions == [{"01": 1.0}]
    assert exact.circuits[0].expectation_values == [[-1.0]]
    assert exact.circuits[1].expectation_values == [[1.0]]
    assert exact.circuits[0].standard_errors == [[0.0]]


def test_two_classical_registers_join_in_qiskit_bit_order() -> None:
    source = """OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[2] a;
bit[1] b;
x q[1];
x q[2];
a[0] = measure q[0];
a[1] = measure q[1];
b[0] = measure q[2];
"""
    outcome = run_task(task(CircuitTask(source), shots=10))

    # Clbits in order a[0], a[1], b[0]; clbit 0 is the rightmost character, no spaces.
    assert outcome.circuits[0].counts == [{"110": 10}]


def test_a_bit_in_no_register_is_left_out_as_qiskits_sampler_does() -> None:
    source = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit flag;
bit[1] a;
x q[0];
flag = measure q[0];
a[0] = measure q[1];
"""
    outcome = run_task(task(CircuitTask(source), shots=10))

    assert outcome.circuits[0].counts == [{"0": 10}]


def test_a_mid_circuit_measurement_steers_an_if_else_across_two_registers() -> None:
    source = """OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[2] m;
bit[1] f;
h q[0];
m[0] = measure q[0];
if (m[0]) { x q[1]; } else { x q[2]; }
reset q[0];
m[1] = measure q[1];
f[0] = measure q[2];
"""
    outcome = run_task(task(CircuitTask(source), shots=1000, seed_simulator=3))

    [counts] = outcome.circuits[0].counts or []
    # m[0] rightmost, then m[1], then f[0]: 1 flips q[1] ("011"), 0 flips q[2] ("100").
    assert set(counts) == {"011", "100"}
    assert sum(counts.values()) == 1000
    assert within_5_sigma(counts["011"] / 1000, 0.5, 1000)


def test_each_parameter_set_gets_its_own_distribution_of_all_its_shots() -> None:
    thetas = (0.0, 0.4, 1.0, math.pi / 2, 2.2, 2.9, math.pi)
    sets = tuple((theta,) for theta in thetas)

    outcome = run_task(task(CircuitTask(RY_MEASURED, sets), shots=4000, seed_simulator=11))

    [circuit] = outcome.circuits
    assert circuit.counts is not None and circuit.distributions is not None
    assert len(circuit.counts) == len(circuit.distributions) == len(thetas)
    for theta, counts, distribution in zip(
        thetas, circuit.counts, circuit.distributions, strict=True
    ):
        assert sum(counts.values()) == 4000
        assert distribution == {key: n / 4000 for key, n in counts.items()}
        assert sum(distribution.values()) == pytest.approx(1.0)
        assert within_5_sigma(distribution.get("1", 0.0), math.sin(theta / 2) ** 2, 4000)


def test_a_noisy_device_samples_every_parameter_set_with_its_noise() -> None:
    sets = ((0.0,), (math.pi / 2,), (math.pi,))

    outcome = run_task(
        task(CircuitTask(RY_MEASURED, sets), device="fake_nairobi", shots=2000, seed_simulator=5)
    )

    counts = outcome.circuits[0].counts or []
    assert [sum(c.values()) for c in counts] == [2000] * 3
    zero, half, one = (d.get("1", 0.0) for d in outcome.circuits[0].distributions or [])
    # Readout errors flip some shots of the exact 0 and 1 outcomes.
    assert 0 < zero < 0.1 and 0.9 < one < 1
    assert within_5_sigma(half, 0.5, 2000)
    assert outcome.metadata["noisy"] is True


def test_observables_by_parameter_sets_match_exact_values() -> None:
    shots = 4000
    circuits = (
        CircuitTask(RY_CX, parameter_sets=SETS_1, observables=OBSERVABLES),
        CircuitTask(RY_RX, parameter_sets=SETS_2, observables=OBSERVABLES),
    )
    expected = [exact_expectations(RY_CX, SETS_1), exact_expectations(RY_RX, SETS_2)]

    sampled = run_task(task(*circuits, shots=shots, seed_simulator=7))
    exact = run_task(task(*circuits, run_type="StatevectorRun"))

    sigma = 1 / math.sqrt(shots)
    for c, want in enumerate(expected):
        noisy_values = np.array(sampled.circuits[c].expectation_values)
        assert noisy_values.shape == (2, 3)
        assert np.all(np.abs(noisy_values - want) <= 5 * sigma)
        assert np.allclose(sampled.circuits[c].standard_errors or [], sigma)
        assert np.allclose(exact.circuits[c].expectation_values or [], want, atol=1e-9, rtol=0)
        assert exact.circuits[c].standard_errors == [[0.0] * 3, [0.0] * 3]
    assert sampled.metadata["precision"] == pytest.approx(sigma)
    assert sampled.metadata["seed_simulator"] == 7


def test_statevector_run_gives_exact_amplitudes_and_drops_measurements() -> None:
    outcome = run_task(
        task(
            CircuitTask(RY_RX, parameter_sets=SETS_2),
            CircuitTask(BELL_QASM2),
            run_type="StatevectorRun",
        )
    )

    circuit = qasm3.loads(RY_RX).remove_final_measurements(inplace=False)
    parameterised, bell = outcome.circuits
    assert parameterised.statevectors is not None and parameterised.probabilities is not None
    assert len(parameterised.statevectors) == 3
    for (re, im), probabilities, values in zip(
        parameterised.statevectors, parameterised.probabilities, SETS_2, strict=True
    ):
        want = Statevector(circuit.assign_parameters(values)).data
        assert np.allclose(np.array(re) + 1j * np.array(im), want, atol=1e-9, rtol=0)
        assert sum(probabilities.values()) == pytest.approx(1.0)
        for key, probability in probabilities.items():
            assert probability == pytest.approx(abs(want[int(key, 2)]) ** 2, abs=1e-12)
    assert bell.probabilities is not None and bell.probabilities[0].keys() == {"00", "11"}
    assert bell.counts is None
    assert outcome.metadata["simulator_method"] == "statevector"


def test_noisy_fake_device_shows_noise_and_builds_its_simulator_once(monkeypatch) -> None:
    client.noisy_simulator.cache_clear()
    built: list[object] = []
    from_backend = AerSimulator.from_backend

    def counted(backend: object, **options: Any) -> AerSimulator:
        built.append(backend)
        return from_backend(backend, **options)

    monkeypatch.setattr(AerSimulator, "from_backend", counted)

    first = run_task(task(CircuitTask(BELL_QASM2), device="fake_manila", seed_simulator=1))
    second = run_task(
        task(
            CircuitTask(X_ON_QUBIT_0, observables=(ObservableSpec(("IZ", "ZI"), (1.0, 0.0)),)),
            CircuitTask(X_ON_QUBIT_0, observables=(ObservableSpec(("ZI",), (1.0,)),)),
            device="fake_manila",
            seed_simulator=1,
        )
    )

    assert len(built) == 1
    [counts] = first.circuits[0].counts or []
    assert counts.get("01", 0) + counts.get("10", 0) > 0
    assert first.metadata["noisy"] is True
    # Observables follow the layout the transpiler chose on the device.
    [[iz]] = second.circuits[0].expectation_values or []
    [[zi]] = second.circuits[1].expectation_values or []
    assert iz < -0.8 and zi > 0.8


def test_one_simulator_run_per_job_and_one_transpile_per_circuit(monkeypatch) -> None:
    calls: Counter[str] = Counter()
    original_estimate = EstimatorV2.run

    def counted_estimate(self: EstimatorV2, pubs: Any, **kwargs: Any) -> Any:
        calls["EstimatorV2"] += 1
        return original_estimate(self, pubs, **kwargs)

    monkeypatch.setattr(EstimatorV2, "run", counted_estimate)
    runs = noted_runs(monkeypatch)
    transpiled: list[int] = []
    real_pass_manager = client.pass_manager_for

    class CountingPassManager:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def run(self, circuit: QuantumCircuit) -> QuantumCircuit:
            transpiled.append(circuit.num_qubits)
            return self.inner.run(circuit)

    monkeypatch.setattr(
        client, "pass_manager_for", lambda *key: CountingPassManager(real_pass_manager(*key))
    )
    many_sets = tuple((0.1 * i, 0.2 * i) for i in range(50))

    outcome = run_task(
        task(
            CircuitTask(RY_RX, parameter_sets=many_sets),
            CircuitTask(BELL_QASM3),
            CircuitTask(RY_RX, parameter_sets=many_sets, observables=OBSERVABLES),
            shots=100,
        )
    )

    # The Estimator runs its circuits without shots.
    calls["counting run"] = sum(1 for _, options in runs if "shots" in options)
    assert calls == {"counting run": 1, "EstimatorV2": 1}
    assert len(transpiled) == 3
    assert len(outcome.circuits[0].counts or []) == 50
    assert all(sum(c.values()) == 100 for c in outcome.circuits[0].counts or [])
    assert np.shape(np.array(outcome.circuits[2].expectation_values)) == (2, 50)


def test_statevector_run_is_one_simulator_call(monkeypatch) -> None:
    runs = noted_runs(monkeypatch)

    run_task(
        task(
            CircuitTask(RY_RX, parameter_sets=SETS_2),
            CircuitTask(RY_CX, parameter_sets=SETS_1),
            run_type="StatevectorRun",
        )
    )

    assert [circuits for circuits, _ in runs] == [2]


def test_a_parameter_removed_by_the_transpiler_still_gives_every_set() -> None:
    # At optimization level 3 the rz before the measurement disappears, and theta with it.
    def source(prepare: str) -> str:
        return f"""OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[1] q;
bit[1] c;
{prepare} q[0];
rz(theta) q[0];
c[0] = measure q[0];
"""

    sets = ((0.1,), (0.2,), (0.3,))
    outcome = run_task(
        task(
            CircuitTask(source("x"), parameter_sets=sets),
            CircuitTask(
                source("x"), parameter_sets=sets, observables=(ObservableSpec(("Z",), (1.0,)),)
            ),
            CircuitTask(source("h"), parameter_sets=sets),
            shots=200,
            optimization_level=3,
            seed_simulator=2,
        )
    )

    assert outcome.circuits[0].counts == [{"1": 200}] * 3
    assert np.shape(np.array(outcome.circuits[1].expectation_values)) == (1, 3)
    # Each set still has shots of its own, not one sample repeated.
    coin_flips = outcome.circuits[2].counts or []
    assert [sum(c.values()) for c in coin_flips] == [200] * 3
    assert len({c["1"] for c in coin_flips}) > 1


def test_seed_simulator_makes_sampling_reproducible() -> None:
    def counts(seed: int) -> ExecutionOutcome:
        return run_task(task(CircuitTask(BELL_QASM2), shots=200, seed_simulator=seed))

    assert counts(5).circuits[0].counts == counts(5).circuits[0].counts


ZZZ = (ObservableSpec(("ZZZ",), (1.0,)),)
INVALID = {
    "no measurements": (CircuitTask(RY_CX, SETS_1), {}, "no_measurements", "measures nothing"),
    "wrong set length": (CircuitTask(RY_RX, SETS_1), {}, "invalid_parameters", "(alpha, phi)"),
    "sets missing": (CircuitTask(RY_RX), {}, "invalid_parameters", "no parameter sets"),
    "unknown option": (
        CircuitTask(BELL_QASM2),
        {"resilience_level": 1},
        "unsupported_option",
        "options.resilience_level: not supported",
    ),
    "bad option": (CircuitTask(BELL_QASM2), {"optimization_level": 7}, "invalid_option", "0..3"),
    "unknown device": (CircuitTask(BELL_QASM2), {"device": "nowhere"}, "unknown_device", ""),
    "bad qasm": (CircuitTask("OPENQASM 3.0; qubit[2] q; h q[7];"), {}, "invalid_circuit", ""),
    "bad observable": (CircuitTask(BELL_QASM2, observables=ZZZ), {}, "invalid_observable", "ZZZ"),
}


@pytest.mark.parametrize(("circuit", "extra", "code", "fragment"), INVALID.values(), ids=INVALID)
def test_invalid_tasks_fail_with_a_structured_error(
    circuit: CircuitTask, extra: dict[str, Any], code: str, fragment: str
) -> None:
    with pytest.raises(ProviderError) as raised:
        run_task(task(circuit, **extra))

    assert raised.value.code == code
    assert fragment in raised.value.message
    assert not raised.value.retryable


def test_circuit_wider_than_the_device_is_refused() -> None:
    wide = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[6];\ncreg c[6];\nh q[5];\nmeasure q -> c;\n'
    )

    with pytest.raises(ProviderError) as raised:
        run_task(task(CircuitTask(wide), device="fake_manila"))
    assert raised.value.code == "device_too_small"
    with pytest.raises(ProviderError) as raised:
        run_task(
            task(CircuitTask(wide), run_type="StatevectorRun"),
            build(ProviderConfig(max_dense_qubits=5)),
        )
    assert raised.value.code == "device_too_small"


def test_mitigation_is_recorded_as_nothing_to_do_or_applied_when_noisy() -> None:
    noiseless = task(CircuitTask(BELL_QASM2), shots=10)
    noisy = task(CircuitTask(BELL_QASM2), device="fake_manila", shots=10)
    outcome = run_task(ExecutionTask(**{**noiseless.__dict__, "use_mitigation": True}))
    mitigated = run_task(ExecutionTask(**{**noisy.__dict__, "use_mitigation": True}))

    assert outcome.metadata["mitigation"] == "none (noiseless simulator)"
    assert mitigated.metadata["mitigation"]["readout"]["method"] == "mthree"


def test_estimate_is_free_and_reports_the_transpiled_shape() -> None:
    estimate = estimate_task(
        task(CircuitTask(BELL_QASM2), CircuitTask(RY_CX, SETS_1, OBSERVABLES), device="fake_manila")
    )

    assert estimate.usd == 0.0
    assert 0 < estimate.seconds < 1
    assert [shape["qubits"] for shape in estimate.circuits] == [2, 2]
    assert all(shape["gates_2q"] >= 1 for shape in estimate.circuits)


def test_catalogue_lists_ideal_and_noisy_devices() -> None:
    devices = {device.id: device for device in simulators.local_devices(max_dense_qubits=24)}

    assert {
        "aer_simulator",
        "aer_simulator_statevector",
        "fake_manila",
        "fake_torino",
    } <= devices.keys()
    assert not [i for i in devices if i.startswith(("ibm", "aws", "iqm"))]
    assert devices["aer_simulator_statevector"].qubits == 24
    assert devices["aer_simulator_density_matrix"].qubits == 12
    assert devices["aer_simulator_statevector"].supports_statevector
    assert "cx" in devices["aer_simulator"].basis_gates
    assert "measure" not in devices["aer_simulator"].basis_gates
    manila = devices["fake_manila"]
    assert manila.noisy and manila.simulator and manila.qubits == 5
    assert manila.coupling_map is not None and (0, 1) in manila.coupling_map
    assert simulators.find_local_device("nowhere") is None


def test_noisy_device_listing_matches_the_fake_backend() -> None:
    listed = simulators.find_local_device("fake_manila")
    from_backend = simulators.fake_metadata_from_backend("fake_manila")

    assert listed is not None
    assert listed.qubits == from_backend["qubits"]
    assert listed.basis_gates == from_backend["basis_gates"]
    assert listed.coupling_map == from_backend["coupling_map"]
