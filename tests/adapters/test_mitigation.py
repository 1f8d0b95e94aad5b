"""Error mitigation on the noisy local simulators: readout correction (mthree) of distributions
and zero-noise extrapolation (folding + mitiq) of expectation values."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator
from qiskit.transpiler import generate_preset_pass_manager

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import build, client
from qorch.adapters.providers.local import catalogue as simulators
from qorch.adapters.providers.pipeline import mitigation
from qorch.adapters.providers.pipeline.mitigation import readout
from qorch.domain.execution import (
    CircuitTask,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
)
from tests.conftest import RY_MEASURED

NOISY = "fake_manila"
SEEDS = (11, 12, 13, 14, 15)

GHZ_5 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[5];
creg c[5];
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
measure q -> c;
"""
GHZ_EXACT = {"00000": 0.5, "11111": 0.5}
# On a GHZ state every product of an even number of Z's is exactly 1.
GHZ_PARITIES = (
    ObservableSpec(("IZZZZ",), (1.0,)),
    ObservableSpec(("ZZZZI",), (1.0,)),
    ObservableSpec(("ZIIIZ",), (1.0,)),
)

# <ZZ> = 1 and <IZ> = cos(theta) for every theta.
RY_CX = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
ry(theta) q[0];
cx q[0], q[1];
cx q[0], q[1];
cx q[0], q[1];
cx q[0], q[1];
cx q[0], q[1];
"""
THETAS = ((0.3,), (1.2,), (2.5,))


LOCAL = build(ProviderConfig())


def run(
    *circuits: CircuitTask,
    mitigate: bool,
    device: str = NOISY,
    shots: int = 4000,
    run_type: str = "Run",
    **options: Any,
) -> ExecutionOutcome:
    found = simulators.find_local_device(device)
    assert found is not None
    return LOCAL.run(
        ExecutionTask(
            job_id="job",
            device_id=device,
            run_type=run_type,  # type: ignore[arg-type]
            shots=shots,
            circuits=circuits,
            options=options,
            use_mitigation=mitigate,
        ),
        found,
        {},
    )


def total_variation(distribution: dict[str, float], exact: dict[str, float]) -> float:
    keys = distribution.keys() | exact.keys()
    return 0.5 * sum(abs(distribution.get(k, 0.0) - exact.get(k, 0.0)) for k in keys)


def test_zne_at_least_halves_the_error_of_ghz_parities() -> None:
    # Aer's estimator costs the same whatever the shots: many shots keep the shot noise (which
    # the extrapolation amplifies about 2.3x) well below the gate noise being removed.
    errors: dict[bool, list[float]] = {False: [], True: []}
    for seed in SEEDS:
        for mitigate in (False, True):
            outcome = run(
                CircuitTask(GHZ_5, observables=GHZ_PARITIES),
                mitigate=mitigate,
                shots=200_000,
                seed_simulator=seed,
            )
            values = np.array(outcome.circuits[0].expectation_values)
            assert values.shape == (3, 1)
            errors[mitigate].extend(np.abs(values - 1.0).ravel().tolist())

    raw, mitigated = np.mean(errors[False]), np.mean(errors[True])
    assert raw > 0.01, "the noisy simulator should visibly damp the GHZ parities"
    assert mitigated <= raw / 2, (raw, mitigated)


def test_zne_keeps_parameters_and_broadcasts_every_set() -> None:
    observables = (ObservableSpec(("ZZ",), (1.0,)), ObservableSpec(("IZ",), (1.0,)))
    exact = np.array([[1.0] * 3, [np.cos(t) for (t,) in THETAS]])
    circuit = CircuitTask(RY_CX, parameter_sets=THETAS, observables=observables)

    raw = run(circuit, mitigate=False, shots=1_000_000, seed_simulator=3)
    mitigated = run(circuit, mitigate=True, shots=1_000_000, seed_simulator=3)

    raw_error = np.abs(np.array(raw.circuits[0].expectation_values) - exact)
    mitigated_error = np.abs(np.array(mitigated.circuits[0].expectation_values) - exact)
    assert mitigated_error.shape == (2, 3)
    assert mitigated_error.mean() <= raw_error.mean() / 2, (raw_error, mitigated_error)
    # Richardson on (1, 3, 5) combines three independent estimates: sqrt(15^2+10^2+3^2)/8.
    errors = np.array(mitigated.circuits[0].standard_errors)
    assert errors == pytest.approx(np.full((2, 3), 1e-3 * np.sqrt(334) / 8))


def test_readout_mitigation_brings_ghz_distributions_closer_and_keeps_raw_counts() -> None:
    raw_distances, mitigated_distances = [], []
    for seed in SEEDS[:3]:
        raw = run(CircuitTask(GHZ_5), mitigate=False, seed_simulator=seed).circuits[0]
        mitigated = run(CircuitTask(GHZ_5), mitigate=True, seed_simulator=seed).circuits[0]
        assert raw.distributions is not None and mitigated.distributions is not None

        # counts are what was measured: the very same samples as without mitigation.
        assert mitigated.counts == raw.counts
        [distribution] = mitigated.distributions
        assert all(p > 0 for p in distribution.values())
        assert sum(distribution.values()) == pytest.approx(1.0, abs=1e-12)
        raw_distances.append(total_variation(raw.distributions[0], GHZ_EXACT))
        mitigated_distances.append(total_variation(distribution, GHZ_EXACT))

    assert np.mean(mitigated_distances) < np.mean(raw_distances) / 2, (
        raw_distances,
        mitigated_distances,
    )


def test_readout_mitigation_corrects_every_parameter_set_of_a_sweep() -> None:
    sets = ((0.0,), (math.pi / 3,), (math.pi,))
    exact = [math.sin(theta / 2) ** 2 for (theta,) in sets]

    raw = run(CircuitTask(RY_MEASURED, sets), mitigate=False, seed_simulator=21).circuits[0]
    mitigated = run(CircuitTask(RY_MEASURED, sets), mitigate=True, seed_simulator=21).circuits[0]

    assert mitigated.counts == raw.counts
    assert [sum(c.values()) for c in mitigated.counts or []] == [4000] * 3
    raw_ones = [d.get("1", 0.0) for d in raw.distributions or []]
    mitigated_ones = [d.get("1", 0.0) for d in mitigated.distributions or []]
    assert len(mitigated_ones) == 3
    assert all(sum(d.values()) == pytest.approx(1.0) for d in mitigated.distributions or [])
    raw_error = sum(abs(p - want) for p, want in zip(raw_ones, exact, strict=True))
    mitigated_error = sum(abs(p - want) for p, want in zip(mitigated_ones, exact, strict=True))
    assert mitigated_error < raw_error / 2, (raw_ones, mitigated_ones)


def test_metadata_records_what_was_applied_and_calibrations_are_cached() -> None:
    readout._CALIBRATIONS.clear()
    both = (CircuitTask(GHZ_5), CircuitTask(GHZ_5, observables=GHZ_PARITIES))
    options: dict[str, Any] = {"zne_scale_factors": [1, 3, 5, 7], "zne_extrapolation": "linear"}

    first = run(*both, mitigate=True, seed_simulator=5, **options)
    again = run(*both, mitigate=True, seed_simulator=5, **options)

    applied = first.metadata["mitigation"]
    assert applied["readout"]["method"] == "mthree"
    assert applied["readout"]["calibration_shots"] == mitigation.CALIBRATION_SHOTS
    assert applied["readout"]["circuits"] == [0]
    assert sorted(applied["readout"]["qubits"]["0"]) == [0, 1, 2, 3, 4]
    assert applied["readout"]["calibrations_taken"] == 1
    assert "raw" in applied["readout"]["counts"]
    assert applied["zne"]["method"] == "mitiq"
    assert applied["zne"]["scaling"] == "fold_global"
    assert applied["zne"]["factory"] == "LinearFactory"
    assert applied["zne"]["scale_factors"] == [1, 3, 5, 7]
    assert applied["zne"]["circuits"] == [1]
    assert sum(applied["zne"]["coefficients"]) == pytest.approx(1.0)
    # The calibration is kept for the process and taken with a fixed seed: same results.
    assert again.metadata["mitigation"]["readout"]["calibrations_taken"] == 0
    assert again.circuits[0].distributions == first.circuits[0].distributions
    assert again.circuits[1].expectation_values == first.circuits[1].expectation_values
    readout._CALIBRATIONS.clear()
    fresh = run(*both, mitigate=True, seed_simulator=5, **options)
    assert fresh.circuits[0].distributions == first.circuits[0].distributions


def test_nothing_to_mitigate_is_said_so() -> None:
    bell = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\n'
    measured = CircuitTask(bell + "measure q -> c;\n")

    assert run(measured, mitigate=False).metadata["mitigation"] == "none"
    ideal = run(measured, mitigate=True, device="aer_simulator")
    assert ideal.metadata["mitigation"] == "none (noiseless simulator)"
    exact = run(CircuitTask(bell), mitigate=True, run_type="StatevectorRun")
    assert exact.metadata["mitigation"] == "none (exact statevector)"
    # A bit measured twice cannot be readout-corrected: left raw, and the metadata says why.
    twice = run(CircuitTask(bell + "measure q[0] -> c[0];\nmeasure q[1] -> c[0];\n"), mitigate=True)
    readout = twice.metadata["mitigation"]["readout"]
    assert readout["circuits"] == []
    assert "more than once" in readout["skipped"]["0"]


def test_zne_refuses_a_circuit_it_cannot_fold() -> None:
    mid_circuit = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
        "h q[0];\nmeasure q[0] -> c[0];\ncx q[0], q[1];\n"
    )
    observables = (ObservableSpec(("ZZ",), (1.0,)),)

    with pytest.raises(ProviderError) as raised:
        run(CircuitTask(mid_circuit, observables=observables), mitigate=True)
    assert raised.value.code == "unsupported_circuit"
    assert "circuits[0]" in raised.value.message and "'measure'" in raised.value.message


def test_exponential_extrapolation_mitigates_too() -> None:
    circuit = CircuitTask(GHZ_5, observables=GHZ_PARITIES)
    outcome = run(
        circuit, mitigate=True, shots=1_000_000, seed_simulator=2, zne_extrapolation="exponential"
    )
    raw = run(circuit, mitigate=False, shots=1_000_000, seed_simulator=2)

    zne = outcome.metadata["mitigation"]["zne"]
    assert zne["factory"] == "ExpFactory"
    assert zne["fallbacks_to_linear"] < 3, "mitiq's exponential fit should mostly succeed"
    values = np.array(outcome.circuits[0].expectation_values)
    raw_values = np.array(raw.circuits[0].expectation_values)
    assert np.abs(values - 1).mean() <= np.abs(raw_values - 1).mean() / 2
    errors = np.array(outcome.circuits[0].standard_errors)
    assert np.all((errors > 1e-3) & (errors < 0.05))


BAD_OPTIONS = [
    ({"zne_scale_factors": [1, 2, 3]}, "options.zne_scale_factors", "2 is not allowed"),
    ({"zne_scale_factors": [1]}, "options.zne_scale_factors", "2 to 8 distinct odd"),
    ({"zne_scale_factors": "1,3,5"}, "options.zne_scale_factors", "expected a list"),
    ({"zne_scale_factors": [1, 3, 3]}, "options.zne_scale_factors", "repeated"),
    ({"zne_scale_factors": [1, True]}, "options.zne_scale_factors", "not allowed"),
    ({"zne_scale_factors": [1, 99]}, "options.zne_scale_factors", "not allowed"),
    ({"zne_extrapolation": "cubic"}, "options.zne_extrapolation", "'richardson'"),
    ({"zne_extrapolation": ["linear"]}, "options.zne_extrapolation", "expected one of"),
    (
        {"zne_extrapolation": "exponential", "zne_scale_factors": [1, 3]},
        "options.zne_scale_factors",
        "3 or more",
    ),
]


@pytest.mark.parametrize(("options", "field", "problem"), BAD_OPTIONS)
def test_bad_zne_options_are_refused_naming_the_option(
    options: dict[str, Any], field: str, problem: str
) -> None:
    device = simulators.find_local_device(NOISY)
    assert device is not None

    with pytest.raises(ProviderError) as checked:
        LOCAL.check_request(device, "Run", options, True)
    assert checked.value.field == field
    assert problem in checked.value.message
    with pytest.raises(ProviderError) as ran:
        run(CircuitTask(GHZ_5), mitigate=True, **options)
    assert ran.value.field == field


@pytest.mark.parametrize(
    ("device", "run_type", "mitigate"),
    [(NOISY, "Run", False), ("aer_simulator", "Run", True), (NOISY, "StatevectorRun", True)],
)
def test_zne_options_are_refused_where_nothing_would_use_them(
    device: str, run_type: str, mitigate: bool
) -> None:
    found = simulators.find_local_device(device)
    assert found is not None

    with pytest.raises(ProviderError) as raised:
        LOCAL.check_request(found, run_type, {"zne_scale_factors": [1, 3]}, mitigate)
    assert raised.value.field == "options.zne_scale_factors"
    assert "use_mitigation on a noisy simulator" in raised.value.message
    LOCAL.check_request(found, run_type, {"seed_simulator": 1}, mitigate)  # the rest still passes


def test_folding_repeats_the_transpiled_circuit_and_keeps_its_unitary() -> None:
    backend = client.simulator(NOISY)
    ghz = QuantumCircuit(3)
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    ghz.ry(0.4, 2)
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1).run(ghz)
    translate = generate_preset_pass_manager(0, backend=backend).run

    folded = mitigation.folded_circuits(isa, (1, 3, 5), translate)

    assert folded[0] == isa
    basis = set(backend.target.operation_names)
    for factor, circuit in zip((1, 3, 5), folded, strict=True):
        assert set(circuit.count_ops()) <= basis, "folded gates must all carry device noise"
        assert circuit.count_ops()["cx"] == factor * isa.count_ops()["cx"]
        assert Operator(circuit).equiv(Operator(isa))


def test_unmitigated_runs_never_import_the_mitigation_libraries() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from qorch.adapters.providers.config import ProviderConfig
        from qorch.adapters.providers.local import build
        from qorch.adapters.providers.local.catalogue import find_local_device
        from qorch.domain.execution import CircuitTask, ExecutionTask
        task = ExecutionTask("j", "{NOISY}", "Run", 100, (CircuitTask({GHZ_5!r}),))
        local, device = build(ProviderConfig()), find_local_device("{NOISY}")
        local.check_request(device, "Run", {{}}, False)
        local.run(task, device, {{}})
        print(sorted(m for m in ("mthree", "mitiq", "qorch.adapters.providers.pipeline.mitigation")
                     if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
