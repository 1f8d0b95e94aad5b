"""The rule for dynamic circuits, on the facts the domain keeps: a run uses only the features its
device lists, a StatevectorRun none; circuits stored before the dynamic metrics existed are
judged by their top-level operations."""

from __future__ import annotations

from typing import Any

import pytest

from qorch.adapters.qasm import parse_circuit
from qorch.domain.circuit import CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.dynamic import check_dynamic, dynamic_features
from qorch.domain.errors import RequestError

AER = ("for_loop", "if_else", "mid_circuit_measurement", "reset", "while_loop")


def facts(**metrics: Any) -> CircuitFacts:
    return CircuitFacts("", "qasm3", "h", 1, (), True, {"other_ops": {}, **metrics})


def parsed(body: str) -> CircuitFacts:
    source = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n' + body
    return facts(**parse_circuit(source).metrics.as_dict())


def device(*features: str) -> Device:
    return Device("dev", "p", "v", "Dev", 5, True, dynamic_circuits=features)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("h q[0];\nc = measure q;\n", set()),
        ("c[0] = measure q[0];\nc[0] = measure q[0];\n", set()),  # measured twice, at the end
        ("c[0] = measure q[0];\nx q[0];\nc[0] = measure q[0];\n", {"mid_circuit_measurement"}),
        ("reset q[0];\nc = measure q;\n", {"reset"}),
        (
            "c[0] = measure q[0];\nif (c[0]) { x q[1]; }\n",
            {"mid_circuit_measurement", "if_else"},
        ),
        (
            "for int i in [0:1] { c[0] = measure q[0]; if (c[0]) { reset q[1]; } }\n",
            {
                "for_loop",
                "if_else",
                "reset",
                "nested_control_flow",
                "measurement_in_control_flow",
            },
        ),
    ],
)
def test_the_features_a_circuit_uses_come_from_its_parsed_metrics(body: str, expected: set):
    assert dynamic_features(parsed(body)) == expected


def test_a_circuit_stored_before_the_dynamic_metrics_is_judged_by_its_top_level_operations():
    old = facts(other_ops={"reset": 1, "while_loop": 1, "measure": 2})

    assert dynamic_features(old) == {"reset", "while_loop"}
    with pytest.raises(RequestError, match="while loops"):
        check_dynamic(old, 0, device("reset", "if_else"), "Run")


def test_a_device_runs_what_it_lists_and_refuses_the_rest_naming_the_circuit():
    teleport_like = facts(other_ops={"if_else": 2, "measure": 3}, mid_circuit_measurements=2)

    check_dynamic(teleport_like, 0, device(*AER), "Run")
    with pytest.raises(RequestError) as refused:
        check_dynamic(teleport_like, 3, device("mid_circuit_measurement"), "Run")

    assert refused.value.field == "circuits[3]"
    assert "uses if/else (if_else), which dev cannot run" in str(refused.value)


def test_a_statevector_run_takes_no_dynamic_feature_even_on_a_device_that_runs_it():
    with pytest.raises(RequestError, match="StatevectorRun computes one exact state"):
        check_dynamic(facts(other_ops={"reset": 1}), 0, device(*AER), "StatevectorRun")
    check_dynamic(facts(other_ops={"measure": 1}), 0, device(), "StatevectorRun")
