"""Pauli terms are limited per observable and per job (issue 11, finding 3: an observable of
20,000 terms kept a worker busy for minutes; grouping terms is quadratic)."""

from __future__ import annotations

import time

import pytest

from qorch.domain.circuit import CircuitFacts
from qorch.domain.errors import RequestError
from qorch.domain.requests import Limits, normalise_observables


def facts(qubits: int = 2) -> CircuitFacts:
    return CircuitFacts("", "qasm3", "h", qubits, (), True)


def observable(terms: int, qubits: int = 10) -> list[list]:
    labels = [format(i, f"0{2 * qubits}b") for i in range(terms)]
    paulis = [
        "".join("IXYZ"[int(bits[2 * q : 2 * q + 2], 2)] for q in range(qubits)) for bits in labels
    ]
    return [paulis, [1.0] * terms]


def test_an_observable_of_20000_terms_is_refused_at_once():
    started = time.thread_time()
    with pytest.raises(RequestError) as refused:
        normalise_observables([observable(20_000)], [facts(10)], Limits())
    assert refused.value.field == "observables[0][0]"
    assert "20,000 Pauli terms" in refused.value.message
    assert "QORCH_MAX_PAULI_TERMS" in refused.value.message
    assert time.thread_time() - started < 1.0


def test_terms_are_limited_over_the_whole_job():
    limits = Limits(max_pauli_terms=100, max_job_pauli_terms=250)
    three = [observable(100), observable(100), observable(100)]
    with pytest.raises(RequestError) as refused:
        normalise_observables([three], [facts(10)], limits)
    assert refused.value.field == "observables[0][2]"
    assert "more than 250 Pauli terms" in refused.value.message
    assert "QORCH_MAX_JOB_PAULI_TERMS" in refused.value.message
    # across circuits too
    with pytest.raises(RequestError, match="QORCH_MAX_JOB_PAULI_TERMS"):
        normalise_observables(
            [[observable(100), observable(100)], [observable(100)]], [facts(10), facts(10)], limits
        )
    assert normalise_observables([three[:2]], [facts(10)], limits) is not None


def test_the_term_limits_are_configurable():
    assert normalise_observables([observable(20_000)], [facts(10)], Limits(max_pauli_terms=20_000))
    with pytest.raises(RequestError, match="has 3 Pauli terms"):
        normalise_observables(
            [[["ZZ", "XX", "YY"], [1, 1, 1]]], [facts()], Limits(max_pauli_terms=2)
        )
