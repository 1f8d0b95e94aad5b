"""Dynamic circuits: the features a circuit uses that a plain gates-then-measure device lacks,
and the rule that a run uses only features its device runs (StatevectorRun: none).

A circuit's features are read from its metrics (adapters/qasm.py): `other_ops` counts its
top-level operations, `mid_circuit_measurements` the measurements followed by an operation on
their qubit or a read of their bit, and `ops_in_control_flow` what its branches and loops hold
(the last two are absent when zero, as in circuits stored before they existed). A device lists
the features it runs in `Device.dynamic_circuits`.
"""

from __future__ import annotations

from collections.abc import Iterable

from qorch.domain.circuit import CONTROL_FLOW, CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.errors import RequestError

MID_CIRCUIT_MEASUREMENT = "mid_circuit_measurement"
RESET = "reset"
NESTED_CONTROL_FLOW = "nested_control_flow"
MEASUREMENT_IN_CONTROL_FLOW = "measurement_in_control_flow"

FEATURES: dict[str, str] = {
    MID_CIRCUIT_MEASUREMENT: "mid-circuit measurement",
    RESET: "reset",
    "if_else": "if/else",
    "for_loop": "for loops",
    "while_loop": "while loops",
    "switch_case": "switch",
    "box": "box",
    NESTED_CONTROL_FLOW: "control flow nested in control flow",
    MEASUREMENT_IN_CONTROL_FLOW: "measurement inside a branch or loop",
}
"""Every feature, as devices list them, with the words an error uses."""


def dynamic_features(circuit: CircuitFacts) -> frozenset[str]:
    metrics = circuit.metrics
    top = set(metrics.get("other_ops") or {})
    inside = set(metrics.get("ops_in_control_flow") or {})
    used = (top | inside) & (CONTROL_FLOW | {RESET})
    if int(metrics.get("mid_circuit_measurements") or 0):
        used.add(MID_CIRCUIT_MEASUREMENT)
    if inside & CONTROL_FLOW:
        used.add(NESTED_CONTROL_FLOW)
    if "measure" in inside:
        used.add(MEASUREMENT_IN_CONTROL_FLOW)
    return frozenset(used)


def check_dynamic(circuit: CircuitFacts, index: int, device: Device, run_type: str) -> None:
    used = dynamic_features(circuit)
    if not used:
        return
    if run_type == "StatevectorRun":
        raise RequestError(
            f"circuits[{index}]",
            f"uses {describe(used)}: StatevectorRun computes one exact state, which a circuit "
            "that measures, resets or branches mid-way does not have; use run_type Run",
        )
    missing = used - set(device.dynamic_circuits)
    if missing:
        runs = describe(device.dynamic_circuits) if device.dynamic_circuits else "none"
        raise RequestError(
            f"circuits[{index}]",
            f"uses {describe(missing)}, which {device.id} cannot run (dynamic-circuit features "
            f"it runs: {runs})",
        )


def describe(features: Iterable[str]) -> str:
    ordered = [name for name in FEATURES if name in set(features)]
    return ", ".join(f"{FEATURES[name]} ({name})" for name in ordered)
