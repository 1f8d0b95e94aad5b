"""The nesting rule: circuits → observables → parameter sets, levels only when asked for."""

from __future__ import annotations

from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
from qorch.domain.results import nest_results


def distributions(sets: int) -> CircuitOutcome:
    return CircuitOutcome(
        distributions=[{"0": 0.25 * (i + 1)} for i in range(sets)],
        counts=[{"0": i + 1} for i in range(sets)],
    )


def expectations(observables: int, sets: int) -> CircuitOutcome:
    values = [[float(10 * o + p) for p in range(sets)] for o in range(observables)]
    return CircuitOutcome(expectation_values=values, standard_errors=values)


def test_distributions_without_parameters_are_one_per_circuit():
    results = nest_results(
        ExecutionOutcome([distributions(1), distributions(1)]),
        with_parameters=False,
        with_observables=False,
    )
    assert results["quantum_results"] == [{"0": 0.25}, {"0": 0.25}]
    assert results["counts"] == [{"0": 1}, {"0": 1}]


def test_distributions_with_parameters_nest_per_parameter_set():
    results = nest_results(
        ExecutionOutcome([distributions(2)]), with_parameters=True, with_observables=False
    )
    assert results["quantum_results"] == [[{"0": 0.25}, {"0": 0.5}]]


def test_expectation_values_nest_circuit_observable_parameter_set():
    outcome = ExecutionOutcome([expectations(2, 3), expectations(2, 3)])
    with_sets = nest_results(outcome, with_parameters=True, with_observables=True)
    assert with_sets["quantum_results"][1] == [[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]
    without_sets = nest_results(
        ExecutionOutcome([expectations(2, 1)]), with_parameters=False, with_observables=True
    )
    assert without_sets["quantum_results"] == [[0.0, 10.0]]


def test_statevectors_are_re_im_pairs():
    outcome = ExecutionOutcome(
        [CircuitOutcome(statevectors=[([1.0, 0.0], [0.0, 0.0])], probabilities=[{"0": 1.0}])]
    )
    results = nest_results(outcome, with_parameters=False, with_observables=False)
    assert results["quantum_results"] == [[[1.0, 0.0], [0.0, 0.0]]]
    assert results["probabilities"] == [{"0": 1.0}]
