"""Request shapes accepted on the wire, normalised to [circuit][...] before anything is recorded."""

from __future__ import annotations

import pytest

from qorch.domain.circuit import CircuitFacts
from qorch.domain.errors import RequestError
from qorch.domain.requests import (
    Limits,
    normalise_observables,
    normalise_parameters,
    split_credentials,
)


def facts(qubits: int = 2, parameters: tuple[str, ...] = ()) -> CircuitFacts:
    return CircuitFacts("", "qasm3", "h", qubits, parameters, True)


def test_single_circuit_parameters_may_omit_the_circuit_level():
    circuit = facts(parameters=("a", "b"))
    two_d = normalise_parameters([[1, 2], [3, 4]], [circuit], Limits())
    three_d = normalise_parameters([[[1, 2], [3, 4]]], [circuit], Limits())
    assert two_d == three_d == [[[1.0, 2.0], [3.0, 4.0]]]


def test_single_circuit_observables_may_be_a_list_or_one_bare_observable():
    circuit = facts()
    bare = normalise_observables([["ZZ", "XX"], [1, 0.5]], [circuit], Limits())
    listed = normalise_observables([[["ZZ", "XX"], [1, 0.5]]], [circuit], Limits())
    canonical = normalise_observables([[[["ZZ", "XX"], [1, 0.5]]]], [circuit], Limits())
    assert bare == listed == canonical == [[[["ZZ", "XX"], [1.0, 0.5]]]]


def test_several_circuits_need_one_observable_list_each():
    with pytest.raises(RequestError, match="one list of observables per circuit"):
        normalise_observables([[["ZZ"], [1.0]]], [facts(), facts()], Limits())


def test_parameter_values_must_be_finite_numbers():
    with pytest.raises(RequestError, match="not a finite number"):
        normalise_parameters([[float("nan")]], [facts(parameters=("a",))], Limits())
    with pytest.raises(RequestError, match="is not a number"):
        normalise_parameters([["x"]], [facts(parameters=("a",))], Limits())


def test_credentials_are_split_from_backend_options():
    options, credentials = split_credentials(
        {
            "aws_secret_access_key": "s",
            "ibm_quantum_token": "t",
            "optimization_level": 2,
            "custom_api_key": "k",
        }
    )
    assert options == {"optimization_level": 2}
    assert set(credentials) == {"aws_secret_access_key", "ibm_quantum_token", "custom_api_key"}


@pytest.mark.parametrize(
    "name",
    [
        "authorization",
        "private_key",
        "key",
        "pat",
        "session_token",
        "auth",
        "bearer",
        "password",
        "AWS_SECRET_ACCESS_KEY",
        "ibmQuantumToken",
    ],
)
def test_anything_that_looks_like_a_secret_is_treated_as_a_credential(name: str):
    options, credentials = split_credentials({name: "s3cr3t", "shots_hint": 1})
    assert name in credentials
    assert options == {"shots_hint": 1}
