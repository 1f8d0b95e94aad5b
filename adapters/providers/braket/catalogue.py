"""Amazon Braket's devices as qorch lists them: static data, no SDK, no network."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qorch.domain.devices import Device
from qorch.domain.execution import ProviderError

PROVIDER = "braket"

QISKIT_TO_BRAKET: dict[str, str] = {
    "x": "x",
    "y": "y",
    "z": "z",
    "h": "h",
    "s": "s",
    "sdg": "si",
    "t": "t",
    "tdg": "ti",
    "sx": "v",
    "sxdg": "vi",
    "rx": "rx",
    "ry": "ry",
    "rz": "rz",
    "p": "phaseshift",
    "id": "i",
    "cx": "cnot",
    "cy": "cy",
    "cz": "cz",
    "cp": "cphaseshift",
    "swap": "swap",
    "iswap": "iswap",
    "ccx": "ccnot",
    "cswap": "cswap",
    "rxx": "xx",
    "ryy": "yy",
    "rzz": "zz",
}
"""Qiskit gates whose Braket twin has the same matrix (global phase included)."""

_SIMULATOR_GATES = tuple(name for name in QISKIT_TO_BRAKET if name != "id")
_COMMON_QPU_GATES = ("x", "y", "z", "h", "s", "sdg", "t", "tdg", "rx", "ry", "rz", "cx", "swap")
_IONQ_GATES = (*_COMMON_QPU_GATES, "sx", "sxdg", "rxx", "ryy", "rzz")
_IQM_GATES = (
    *_COMMON_QPU_GATES,
    *("sx", "sxdg", "p", "cy", "cz", "cp", "iswap", "ccx", "cswap", "rxx", "ryy", "rzz"),
)
_RIGETTI_GATES = (*_COMMON_QPU_GATES, "p", "cz", "cp", "iswap", "ccx", "cswap")

_IONQ_NATIVE = ("rx", "ry", "rz", "rxx")
"""IonQ's gpi/gpi2/ms (zz on Forte) approximated by Qiskit rotations and rxx for dry runs."""

Coupling = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ProgramSetLimits:
    """What one program-set task may hold (the device's `braket.ir.openqasm.program_set` action:
    maximumExecutables, maximumTotalShots, minimumTotalShots)."""

    executables: int
    total_shots: int | None = None
    minimum_total_shots: int | None = None


LOCAL_PROGRAM_SETS = ProgramSetLimits(100, 200_000)
"""The local simulator's own action properties."""
QPU_PROGRAM_SETS = ProgramSetLimits(100)
"""Braket's documented 100 executables per program set on gate-based QPUs; dry runs assume it,
submits read the device's own limits (total shots included) from GetDevice."""


def _grid(rows: int, columns: int) -> Coupling:
    """A square lattice, both directions of every edge (an approximation of a real chip)."""
    edges: list[tuple[int, int]] = []
    for row in range(rows):
        for column in range(columns):
            qubit = row * columns + column
            if column + 1 < columns:
                edges += [(qubit, qubit + 1), (qubit + 1, qubit)]
            if row + 1 < rows:
                edges += [(qubit, qubit + columns), (qubit + columns, qubit)]
    return tuple(sorted(edges))


@dataclass(frozen=True, kw_only=True)
class Spec:
    id: str
    name: str
    vendor: str
    qubits: int
    simulator: bool
    submit_gates: tuple[str, ...]
    """Qiskit gates (each with a Braket twin) a program for this device may use."""
    native_gates: tuple[str, ...]
    """The device's native gates in Qiskit terms, for dry-run transpiling."""
    coupling: Coupling | None = None
    description: str
    arn: str | None = None
    region: str | None = None
    """The region a QPU is reached in (SV1 and DM1 have none: the session's is used)."""
    local_backend: str | None = None
    """The LocalSimulator backend of a device that runs offline; None: it runs at AWS."""
    price_key: str | None = None
    debias: bool = False
    """IonQ debiasing, what `use_mitigation` asks of Braket."""
    program_sets: ProgramSetLimits | None = None
    """Program sets (many executions in one task), as dry runs assume them; None: the device has
    no such action (the managed simulators) and runs one task per execution."""

    @property
    def remote(self) -> bool:
        return self.local_backend is None


_SIMULATOR = Spec(
    id="",
    name="",
    vendor="Amazon Braket",
    qubits=0,
    simulator=True,
    description="",
    submit_gates=_SIMULATOR_GATES,
    native_gates=_SIMULATOR_GATES,
)
"""What Braket's simulators share."""


def _local(kind: str, method: str, qubits: int) -> Spec:
    """Braket's local simulator of `kind` ("sv": state vector, "dm": density matrix)."""
    description = f"Amazon Braket's local {method} simulator, runs offline (no AWS account)"
    spec = replace(_SIMULATOR, id=f"braket_{kind}", name=f"Braket local {method} simulator")
    return replace(
        spec,
        qubits=qubits,
        description=description,
        local_backend=spec.id,
        program_sets=LOCAL_PROGRAM_SETS,
    )


def _managed(kind: str, method: str, qubits: int) -> Spec:
    """Braket's managed simulator SV1 or DM1, billed per minute."""
    description = f"Amazon Braket managed {method} simulator (billed per minute)"
    arn = f"arn:aws:braket:::device/quantum-simulator/amazon/{kind}1"
    spec = replace(_SIMULATOR, id=f"braket_{kind}1", name=f"{kind.upper()}1", qubits=qubits)
    return replace(spec, description=description, arn=arn, price_key=f"braket:{kind}1")


def _qpu(
    key: str,
    arn: str,
    qubits: int,
    technology: str,
    connectivity: str,
    gates: tuple[str, ...],
    native_gates: tuple[str, ...],
    coupling: Coupling | None = None,
) -> Spec:
    """A QPU reached through Braket; `arn` is `<region>::device/qpu/<vendor>/<name>`."""
    region, _, path = arn.partition("::")
    vendor, name = path.split("/")[-2:]
    vendor_name = {"ionq": "IonQ", "iqm": "IQM", "rigetti": "Rigetti"}[vendor]
    return Spec(
        id=f"braket_{key}",
        name=f"{vendor_name} {name}",
        vendor=vendor_name,
        qubits=qubits,
        simulator=False,
        description=f"{vendor_name} {name} {technology} through Amazon Braket ({connectivity})",
        submit_gates=gates,
        native_gates=native_gates,
        coupling=coupling,
        arn=f"arn:aws:braket:{arn}",
        region=region,
        price_key=f"braket:{key}",
        debias=vendor == "ionq",  # IonQ's debiasing is Braket's only error mitigation
        program_sets=QPU_PROGRAM_SETS,
    )


def _ionq(key: str, name: str, qubits: int) -> Spec:
    arn = f"us-east-1::device/qpu/ionq/{name}"
    connectivity = "all-to-all connectivity"
    return _qpu(key, arn, qubits, "trapped-ion QPU", connectivity, _IONQ_GATES, _IONQ_NATIVE)


def _lattice(
    key: str,
    arn: str,
    qubits: int,
    gates: tuple[str, ...],
    native: tuple[str, ...],
    rows: int,
    columns: int,
) -> Spec:
    """A superconducting QPU whose coupling map is approximated by a square lattice."""
    connectivity = f"coupling map approximated by a {rows}x{columns} square lattice"
    return _qpu(
        key, arn, qubits, "superconducting QPU", connectivity, gates, native, _grid(rows, columns)
    )


_GARNET = "eu-north-1::device/qpu/iqm/Garnet"
_ANKAA = "us-west-1::device/qpu/rigetti/Ankaa-3"
_RIGETTI_NATIVE = ("rx", "rz", "cz", "iswap")

SPECS: dict[str, Spec] = {
    spec.id: spec
    for spec in (
        _local("sv", "state vector", 26),
        _local("dm", "density matrix", 13),
        _managed("sv", "state vector", 34),
        _managed("dm", "density matrix", 17),
        _ionq("ionq_forte", "Forte-1", 36),
        _ionq("ionq_aria", "Aria-1", 25),
        # IQM's prx is Qiskit's r
        _lattice("iqm_garnet", _GARNET, 20, _IQM_GATES, ("r", "cz"), 4, 5),
        _lattice("rigetti_ankaa", _ANKAA, 84, _RIGETTI_GATES, _RIGETTI_NATIVE, 7, 12),
    )
}


def devices() -> list[Device]:
    return [_device(spec) for spec in SPECS.values()]


def _device(spec: Spec) -> Device:
    extra: dict[str, object] = {"native_gates": list(spec.native_gates)}
    if spec.arn:
        extra["arn"] = spec.arn
        extra["region"] = spec.region or "any (the session's region)"
    if spec.coupling is not None:
        extra["coupling_map_approximate"] = True
    return Device(
        id=spec.id,
        provider=PROVIDER,
        vendor=spec.vendor,
        name=spec.name,
        qubits=spec.qubits,
        simulator=spec.simulator,
        status="online",
        description=spec.description,
        basis_gates=spec.native_gates,
        coupling_map=spec.coupling,
        noisy=not spec.simulator,
        supports_statevector=spec.id == "braket_sv",
        remote=spec.remote,
        credentials=("aws_access_key_id", "aws_secret_access_key") if spec.remote else (),
        price_key=spec.price_key,
        extra=extra,
    )


def spec_of(device: Device) -> Spec:
    spec = SPECS.get(device.id)
    if spec is None:
        raise ProviderError(
            "unknown_device", f"device {device.id!r} is not an Amazon Braket device"
        )
    return spec
