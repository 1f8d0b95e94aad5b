"""The devices the loopback Braket fake (tests/fakes/braket_api.py) serves: their ARNs, the
capability documents GetDevice answers (in the shape of the amazon-braket-schemas classes, which
the SDK parses), and what CreateQuantumTask refuses, as Braket's validation would."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tests.fakes import braket_program_sets as program_sets

ACCOUNT = "123456789012"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
ARIA = "arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
ANKAA = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3"

_IONQ_OPS = "x y z rx ry rz h cnot s si t ti v vi xx yy zz swap"
_IQM_OPS = (
    "ccnot cnot cphaseshift cphaseshift00 cphaseshift01 cphaseshift10 cswap swap iswap pswap ecr "
    "cy cz xy xx yy zz h i phaseshift rx ry rz s si t ti v vi x y z"
)
_RIGETTI_OPS = (
    "cz xy ccnot cnot cphaseshift cphaseshift00 cphaseshift01 cphaseshift10 cswap h i iswap "
    "phaseshift pswap rx ry rz s si swap t ti x y z"
)


@dataclass
class FakeDevice:
    arn: str
    name: str
    provider: str
    device_type: str  # "QPU" | "SIMULATOR"
    qubits: int
    operations: tuple[str, ...] | None = None
    """Gate names a QPU accepts (None: a simulator, anything the simulator runs)."""
    schema: str = "braket.device_schema.simulators.gate_model_simulator_device_capabilities"
    native: tuple[str, ...] = ()
    status: str = "ONLINE"
    queue_normal: str = "0"
    queue_priority: str = "0"
    program_sets: tuple[int, int] | None = None
    """(maximumExecutables, maximumTotalShots) of its program-set action; None: no such action."""


QPU_PROGRAM_SETS = (100, 1_000_000)


def default_devices() -> dict[str, FakeDevice]:
    devices = [
        FakeDevice(SV1, "SV1", "Amazon Braket", "SIMULATOR", 34),
        FakeDevice(DM1, "dm1", "Amazon Braket", "SIMULATOR", 17),
        FakeDevice(
            FORTE,
            "Forte 1",
            "IonQ",
            "QPU",
            36,
            tuple(_IONQ_OPS.split()),
            "braket.device_schema.ionq.ionq_device_capabilities",
            ("gpi", "gpi2", "zz"),
            program_sets=QPU_PROGRAM_SETS,
        ),
        FakeDevice(
            ARIA,
            "Aria 1",
            "IonQ",
            "QPU",
            25,
            tuple(_IONQ_OPS.split()),
            "braket.device_schema.ionq.ionq_device_capabilities",
            ("gpi", "gpi2", "ms"),
            program_sets=QPU_PROGRAM_SETS,
        ),
        FakeDevice(
            GARNET,
            "Garnet",
            "IQM",
            "QPU",
            20,
            tuple(_IQM_OPS.split()),
            "braket.device_schema.iqm.iqm_device_capabilities",
            ("cz", "prx"),
            program_sets=QPU_PROGRAM_SETS,
        ),
        FakeDevice(
            ANKAA,
            "Ankaa-3",
            "Rigetti",
            "QPU",
            84,
            tuple(_RIGETTI_OPS.split()),
            "braket.device_schema.rigetti.rigetti_device_capabilities",
            ("rx", "rz", "iswap"),
            program_sets=QPU_PROGRAM_SETS,
        ),
    ]
    return {device.arn: device for device in devices}


def region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


_NOT_GATES = {
    "OPENQASM",
    "include",
    "qubit",
    "bit",
    "input",
    "output",
    "const",
    "float",
    "int",
    "uint",
    "angle",
    "bool",
    "measure",
    "barrier",
    "reset",
    "box",
}
_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)")


def validate(device: FakeDevice, body: dict[str, Any]) -> str | None:
    """What Braket's validation would refuse: unknown actions, shots, gates a QPU lacks."""
    try:
        action = json.loads(body["action"])
    except (TypeError, ValueError):
        return "action is not JSON"
    header = action.get("braketSchemaHeader", {})
    shots = int(body["shots"])
    if header.get("name") == program_sets.ACTION:
        return program_sets.problem(
            action, shots, device.program_sets, lambda source: _gates_problem(device, source)
        )
    if header.get("name") != "braket.ir.openqasm.program" or "source" not in action:
        return f"unsupported action {header.get('name')!r}"
    if device.device_type == "QPU" and shots < 1:
        return "shots must be at least 1 on a QPU"
    return _gates_problem(device, action["source"])


def _gates_problem(device: FakeDevice, text: str) -> str | None:
    if device.operations is None:
        return None
    source = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)
    for statement in source.split(";"):
        text = statement.strip()
        if not text or text.startswith("#pragma") or "measure" in text:
            continue
        head = _HEAD.match(text)
        name = head.group(1) if head else text.split()[0]
        if name == "gate":
            return "gate definitions are not supported on this device"
        if name not in _NOT_GATES and name not in device.operations:
            return f"Gate {name} is not supported by {device.name}"
    return None


def capabilities(device: FakeDevice) -> dict[str, Any]:
    """A device document in the shape of the amazon-braket-schemas classes (the SDK parses it)."""
    service = {
        "braketSchemaHeader": {
            "name": "braket.device_schema.device_service_properties",
            "version": "1",
        },
        "executionWindows": [
            {"executionDay": "Everyday", "windowStartHour": "00:00", "windowEndHour": "23:59"}
        ],
        "shotsRange": [1, 100000] if device.device_type == "QPU" else [0, 100000],
        "deviceCost": {"price": 0.0, "unit": "shot"},
        "deviceLocation": region_of(device.arn) or "us-east-1",
        "updatedAt": "2026-01-01T00:00:00",
        "getTaskPollIntervalMillis": 50,
    }
    if device.operations is None:
        from braket.devices import LocalSimulator

        backend = "braket_dm" if device.arn == DM1 else "braket_sv"
        document: dict[str, Any] = json.loads(LocalSimulator(backend).properties.json())
        document["service"] = service
        document["paradigm"]["qubitCount"] = device.qubits
        document["action"].pop(program_sets.ACTION, None)
        if device.program_sets is not None:
            document["action"][program_sets.ACTION] = program_sets.action_properties(
                device.program_sets
            )
        return document
    document = {
        "braketSchemaHeader": {"name": device.schema, "version": "1"},
        "service": service,
        "action": {
            "braket.ir.openqasm.program": {
                "actionType": "braket.ir.openqasm.program",
                "version": ["1"],
                "supportedOperations": list(device.operations),
                "supportedModifiers": [],
                "supportedPragmas": ["braket_verbatim"],
                "forbiddenPragmas": [],
                "supportedResultTypes": [
                    {
                        "name": "Sample",
                        "observables": ["x", "y", "z", "h", "i"],
                        "minShots": 1,
                        "maxShots": 100000,
                    },
                    {
                        "name": "Expectation",
                        "observables": ["x", "y", "z", "h", "i"],
                        "minShots": 1,
                        "maxShots": 100000,
                    },
                    {"name": "Probability", "minShots": 1, "maxShots": 100000},
                ],
                "requiresAllQubitsMeasurement": device.provider == "IonQ",
            },
            **(
                {program_sets.ACTION: program_sets.action_properties(device.program_sets)}
                if device.program_sets is not None
                else {}
            ),
        },
        "deviceParameters": {},
        "paradigm": {
            "braketSchemaHeader": {
                "name": "braket.device_schema.gate_model_qpu_paradigm_properties",
                "version": "1",
            },
            "qubitCount": device.qubits,
            "nativeGateSet": list(device.native),
            "connectivity": {"fullyConnected": device.provider == "IonQ", "connectivityGraph": {}},
        },
    }
    if device.provider == "IonQ":
        document["provider"] = {
            "braketSchemaHeader": {
                "name": "braket.device_schema.ionq.ionq_provider_properties",
                "version": "1",
            },
            "fidelity": {"1Q": {"mean": 0.9998}, "2Q": {"mean": 0.995}, "spam": {"mean": 0.995}},
            "timing": {
                "T1": 100.0,
                "T2": 1.0,
                "1Q": 0.00013,
                "2Q": 0.00097,
                "readout": 0.00015,
                "reset": 2e-05,
            },
            "errorMitigation": {
                "braket.device_schema.error_mitigation.debias.Debias": {"minimumShots": 2500}
            },
        }
    return document
