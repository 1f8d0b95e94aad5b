"""IBM Quantum: real QPUs through IBM Quantum Platform, and noisy devices in local testing mode.

Called inside worker processes (and, for `check_request`/`live_status`, in the API process);
qiskit-ibm-runtime 0.51 is imported lazily, inside the functions that need it.

Primitives. We use the client-side primitives `qiskit_ibm_runtime.executor_sampler.Sampler` and
`qiskit_ibm_runtime.executor_estimator.Estimator`: `SamplerV2`/`EstimatorV2` are deprecated
since 0.50 (their constructors warn, pointing to these). The new ones do twirling, dynamical
decoupling and TREX/ZNE/PEC on the client, then submit one `executor` program; a job retrieved
later with `service.job(id)` decodes back to an ordinary `PrimitiveResult` (the program carries
its semantic role). The new Sampler has no resilience options at all.

Devices (static catalogue, no network):
- Real QPUs (`remote=True`, credential `ibm_quantum_token`, price key `ibm:pay_as_you_go`), each
  paired with the fake backend of the same name shipped with qiskit-ibm-runtime: that offline
  calibration snapshot gives the catalogue's basis gates and coupling map, and is the target a
  dry run transpiles to and times (`QuantumCircuit.estimate_duration`).
- Local-mode devices (`remote=False`, no credentials): the runtime's local testing mode, i.e. the
  same primitives given an Aer simulator with the fake backend's noise. Measured trap: the
  client-side Estimator measures every qubit of the circuit (basis changes on all 127 qubits of
  an Eagle), so Aer cannot simulate it at all on a big device ("requires more memory than
  max_memory_mb"), and even a 2-qubit Sampler job costs 3.5 s there (noise model of 127 qubits
  rebuilt per job). We therefore run each job on a copy of the device restricted to the physical
  qubits the job uses (its target, hence its noise, kept qubit by qubit), built once per process
  per qubit set: Bell on FakeBrisbane 3.5 s -> ~0.1 s, and the Estimator works (TREX included).

Runs. Circuits are transpiled to the device's ISA with `generate_preset_pass_manager`
(`optimization_level`, default 1; `seed_transpiler`, default fixed so that a retried submit and a
dry run lay circuits out exactly as the run does). Circuits with observables go to the Estimator
(one PUB per circuit: observables x parameter sets broadcast, `default_shots` = the job's shots
per parameter set and measurement basis), the others to the Sampler (one PUB per circuit). A job
with both kinds makes two IBM jobs.

Mitigation (`use_mitigation`, or explicit `resilience_level`):
- Estimator: `resilience_level` (default 1 with use_mitigation: TREX = measurement twirling and
  readout-error learning; 2 adds gate twirling and ZNE; 0 without use_mitigation).
- Sampler: measurement twirling, plus readout-error correction with mthree (M3): two calibration
  PUBs (all measured qubits in |0>, then in |1>) ride in the same IBM job, so the calibration is
  of the same device at the same time, and each circuit's counts are corrected with the per-qubit
  assignment matrices they give. `counts` stay as measured; `distributions` are the nearest
  probability distribution to M3's quasi-probabilities. The metadata records all of it.

Idempotency: every IBM job is tagged `qorch:<client token>:<primitive>`; `submit_task` first looks
for jobs with that tag (`service.jobs(job_tags=...)`) and reuses them, so a submit retried after
a lost answer does not create (and pay for) a second job.

Credentials: the token is checked locally first (an IBM Cloud API key: 44 characters of
[A-Za-z0-9_-]; the SDK itself only checks for a non-empty string), so a malformed key fails at
once. SDK failures are mapped to ProviderError by walking the exception chain: the SDK reports
"Unable to retrieve instances. Please check that you are using a valid API token." both for a
rejected key (IAM answers 400/401) and when IAM cannot be reached at all, so the cause decides
between invalid_credentials and provider_unavailable. Every remote call runs in a daemon thread
we stop waiting for at 90 % of `config.call_timeout` (the SDK's runtime session has no read
timeout and IAM's is 60 s), raising provider_timeout; messages never contain the token.

Dry runs price QPU time: IBM bills the seconds the QPU is locked for a job, a fixed overhead plus
shots x (repetition delay + circuit duration) for every execution (parameter set x measurement
basis x ZNE noise factor). With the shared price model (`task_overhead + shots x (shot_overhead +
duration)` per CircuitCost execution) we pass each circuit as ONE execution whose per-shot
duration folds all its executions in, so the overhead is paid once per circuit, not once per
parameter set (see `_circuit_cost`); calibration executions are folded into the first circuit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.pipeline.circuits import (
    has_measurements,
    load_circuit,
    parameter_array,
    pauli_operators,
    values_kept_by,
)
from qorch.adapters.providers.pipeline.counts import counts_per_set
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.adapters.providers.pipeline.retry_after import retry_after_seconds
from qorch.adapters.providers.pipeline.secrets import without_secrets
from qorch.adapters.providers.pipeline.shape import transpiled_shape
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitOutcome,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)
from qorch.domain.pricing import CircuitCost, estimate_cost

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.primitives import BitArray
    from qiskit.providers import BackendV2
    from qiskit.quantum_info import SparsePauliOp
    from qiskit.transpiler import StagedPassManager, Target
    from qiskit_aer import AerSimulator

PROVIDER = "ibm"
CHANNEL = "ibm_quantum_platform"
TOKEN_OPTION = "ibm_quantum_token"
INSTANCE_OPTION = "ibm_quantum_instance"
PRICE_KEY = "ibm:pay_as_you_go"
API_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{44}")
"""An IBM Cloud API key, as IBM Quantum Platform takes it (44 URL-safe base64 characters)."""
_LEGACY_TOKEN_PATTERN = re.compile(r"[0-9a-fA-F]{128}")
"""The retired IBM Quantum Experience token (channel ibm_quantum, removed from the SDK)."""

SUPPORTED_OPTIONS = (
    "resilience_level",
    "optimization_level",
    "seed_transpiler",
    "dynamical_decoupling",
    "twirling",
    "max_execution_time",
    "seed_simulator",
)
DEFAULT_OPTIMIZATION_LEVEL = 1
DEFAULT_SEED_TRANSPILER = 7
"""Fixed unless given: a re-submit (and a dry run) must lay circuits out like the run did."""
_MAX_SEED = 2**63 - 1
_MITIGATED_RESILIENCE_LEVEL = 1
_ZNE_NOISE_FACTORS = (1, 3, 5)
"""qiskit-ibm-runtime's default ZNE noise factors (resilience level 2)."""
_JOB_LOOKUP_LIMIT = 5

T = TypeVar("T")


@dataclass(frozen=True)
class _Hardware:
    snapshot: str
    """Folder of the calibration snapshot in qiskit_ibm_runtime/fake_provider/backends."""
    fake_class: str
    processor: str


QPUS: dict[str, _Hardware] = {
    "ibm_brisbane": _Hardware("brisbane", "FakeBrisbane", "Eagle r3"),
    "ibm_sherbrooke": _Hardware("sherbrooke", "FakeSherbrooke", "Eagle r3"),
    "ibm_kyiv": _Hardware("kyiv", "FakeKyiv", "Eagle r3"),
    "ibm_torino": _Hardware("torino", "FakeTorino", "Heron r1"),
    "ibm_fez": _Hardware("fez", "FakeFez", "Heron r2"),
    "ibm_marrakesh": _Hardware("marrakesh", "FakeMarrakesh", "Heron r2"),
    "ibm_kingston": _Hardware("kingston", "FakeKingston", "Heron r2"),
}
"""Real QPUs at IBM Quantum Platform -> their offline calibration snapshot."""

LOCAL_DEVICES: dict[str, _Hardware] = {
    "runtime_fake_manila": _Hardware("manila", "FakeManilaV2", "Falcon r5.11L"),
    "runtime_fake_brisbane": _Hardware("brisbane", "FakeBrisbane", "Eagle r3"),
    "runtime_fake_torino": _Hardware("torino", "FakeTorino", "Heron r1"),
}
"""Noisy devices run in qiskit-ibm-runtime's local testing mode."""

LOCAL_MAX_QUBITS = 24
"""Qubits one circuit may use in local testing mode (noisy Aer simulation is dense)."""

# Wall-time model of local-mode runs (orders of magnitude, measured on a 2-core machine): a job
# costs about 0.1 s of primitive overhead (twirling/TREX preparation, Aer start), a gate about
# 2 ns per amplitude it touches (noisy: per trajectory, one per shot, or the density matrix).
_LOCAL_JOB_SECONDS = 0.1
_LOCAL_AMPLITUDE_SECONDS = 2e-9
_LOCAL_SHOT_SECONDS = 3e-6


# --- catalogue ---------------------------------------------------------------------------------


def devices() -> list[Device]:
    return list(_catalogue())


@functools.cache
def _catalogue() -> tuple[Device, ...]:
    return tuple(
        [_device(device_id, hardware, remote=True) for device_id, hardware in QPUS.items()]
        + [
            _device(device_id, hardware, remote=False)
            for device_id, hardware in LOCAL_DEVICES.items()
        ]
    )


def _device(device_id: str, hardware: _Hardware, *, remote: bool) -> Device:
    conf = _snapshot_configuration(hardware.snapshot)
    qubits = int(conf["n_qubits"])
    coupling = tuple(sorted({(int(a), int(b)) for a, b in conf.get("coupling_map") or []}))
    basis = tuple(sorted(g for g in conf.get("basis_gates", ()) if g not in ("delay", "reset")))
    snapshot = f"{hardware.fake_class} (qiskit-ibm-runtime {_sdk_version()})"
    if remote:
        description = (
            f"IBM Quantum {hardware.processor} QPU, {qubits} qubits, through IBM Quantum "
            "Platform (pay-as-you-go QPU time). Dry runs transpile and time circuits offline "
            f"against the calibration snapshot {snapshot}."
        )
        name = f"{device_id} ({hardware.processor})"
    else:
        description = (
            f"qiskit-ibm-runtime local testing mode: the {hardware.processor} device "
            f"{conf.get('backend_name', hardware.snapshot)} simulated by Aer with its noise "
            f"(snapshot {snapshot}), run by the same Sampler/Estimator primitives as the QPUs."
        )
        name = f"Local testing mode: {conf.get('backend_name', hardware.snapshot)}"
    return Device(
        id=device_id,
        provider=PROVIDER,
        vendor="IBM",
        name=name,
        qubits=qubits,
        simulator=not remote,
        status="online",
        description=description,
        basis_gates=basis,
        coupling_map=coupling,
        noisy=True,
        supports_statevector=False,
        remote=remote,
        credentials=(TOKEN_OPTION,) if remote else (),
        price_key=PRICE_KEY if remote else None,
        extra={
            "processor": hardware.processor,
            "calibration_snapshot": hardware.fake_class,
            "execution": "ibm_quantum_platform" if remote else "local_testing_mode",
        },
    )


@functools.cache
def _snapshot_configuration(snapshot: str) -> dict[str, Any]:
    """The fake backend's configuration file, read without importing the SDK (~1.5 s)."""
    import importlib.util

    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("qiskit-ibm-runtime is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "fake_provider" / "backends" / snapshot / f"conf_{snapshot}.json"
    conf: dict[str, Any] = json.loads(path.read_text())
    return conf


@functools.cache
def _sdk_version() -> str:
    try:
        return importlib_metadata.version("qiskit-ibm-runtime")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _hardware(device: Device) -> tuple[_Hardware, bool]:
    """(hardware, remote) of one of our devices."""
    if device.id in QPUS:
        return QPUS[device.id], True
    if device.id in LOCAL_DEVICES:
        return LOCAL_DEVICES[device.id], False
    raise ProviderError("unknown_device", f"device {device.id!r} is not an IBM device")


# --- options -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IbmOptions:
    resilience_level: int | None = None
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL
    seed_transpiler: int = DEFAULT_SEED_TRANSPILER
    seed_simulator: int | None = None
    dynamical_decoupling: dict[str, Any] | None = None
    twirling: dict[str, Any] | None = None
    max_execution_time: int | None = None


@dataclass(frozen=True)
class Mitigation:
    requested: bool
    resilience_level: int
    """The Estimator's resilience level."""
    readout: bool
    """Sampler: readout-error correction from calibration PUBs in the same job (M3)."""
    measure_twirling: bool
    """Sampler: twirl measurements (unless the twirling option says otherwise)."""


_Check = Callable[[Any], str | None]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(*allowed: str) -> _Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"expected one of {', '.join(map(repr, allowed))}"

    return check


def _flag(optional: bool = False) -> _Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or (optional and value is None):
            return None
        return "expected true or false" + (" (or null)" if optional else "")

    return check


def _count_or_auto(value: Any) -> str | None:
    if value == "auto" or (_is_int(value) and value >= 1):
        return None
    return 'expected a positive integer or "auto"'


_DD_FIELDS: dict[str, _Check] = {
    "enable": _flag(),
    "sequence_type": _choice("XX", "XpXm", "XY4"),
    "extra_slack_distribution": _choice("middle", "edges"),
    "scheduling_method": _choice("alap", "asap"),
    "skip_reset_qubits": _flag(),
}
"""`DynamicalDecouplingOptions` of qiskit-ibm-runtime 0.51 (checked without importing it)."""

_TWIRLING_FIELDS: dict[str, _Check] = {
    "enable_gates": _flag(optional=True),
    "enable_measure": _flag(optional=True),
    "group": _choice("pauli", "balanced_pauli", "local_c1", "local_pauli"),
    "num_randomizations": _count_or_auto,
    "shots_per_randomization": _count_or_auto,
    "strategy": _choice("active", "active-accum", "active-circuit", "all"),
}
"""`TwirlingOptions` of qiskit-ibm-runtime 0.51."""


def _option_error(name: str, problem: str, code: str = "invalid_option") -> ProviderError:
    return ProviderError(code, f"options.{name}: {problem}", field=f"options.{name}")


def _parse_options(options: dict[str, Any], device: Device) -> IbmOptions:
    _, remote = _hardware(device)
    for name in options:
        if name in (TOKEN_OPTION, INSTANCE_OPTION):
            continue  # credentials, when a caller leaves them in: used by submit_task only
        if name == "default_shots":
            raise _option_error(
                name, "not accepted: the job's `shots` sets the shots", "unsupported_option"
            )
        if name not in SUPPORTED_OPTIONS:
            raise _option_error(
                name,
                f"not an option of IBM devices (supported: {', '.join(SUPPORTED_OPTIONS)})",
                "unsupported_option",
            )
    if remote and "seed_simulator" in options:
        raise _option_error(
            "seed_simulator",
            f"only local testing mode devices take a simulator seed, not the QPU {device.id}",
            "unsupported_option",
        )

    def integer(name: str, low: int, high: int) -> int | None:
        value = options.get(name)
        if value is None:
            return None
        if not _is_int(value) or not low <= value <= high:
            raise _option_error(name, f"expected an integer in {low}..{high}")
        return int(value)

    level = integer("optimization_level", 0, 3)
    seed = integer("seed_transpiler", 0, _MAX_SEED)
    return IbmOptions(
        resilience_level=integer("resilience_level", 0, 2),
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
        seed_transpiler=DEFAULT_SEED_TRANSPILER if seed is None else seed,
        seed_simulator=integer("seed_simulator", 0, _MAX_SEED),
        dynamical_decoupling=_sub_options(
            "dynamical_decoupling", options.get("dynamical_decoupling"), _DD_FIELDS, "enable"
        ),
        twirling=_sub_options("twirling", options.get("twirling"), _TWIRLING_FIELDS, None),
        max_execution_time=integer("max_execution_time", 1, 10_800),
    )


def _sub_options(
    name: str, value: Any, fields: dict[str, _Check], switch: str | None
) -> dict[str, Any] | None:
    """A bool (on/off) or a dict of the SDK's fields for dynamical_decoupling / twirling."""
    if value is None:
        return None
    if isinstance(value, bool):
        if switch is not None:
            return {switch: value}
        return {"enable_gates": value, "enable_measure": value}
    if not isinstance(value, dict):
        raise _option_error(name, f"expected true, false or an object with {', '.join(fields)}")
    for key, item in value.items():
        if key not in fields:
            raise _option_error(
                f"{name}.{key}", f"unknown field (known: {', '.join(fields)})", "unsupported_option"
            )
        problem = fields[key](item)
        if problem is not None:
            raise _option_error(f"{name}.{key}", problem)
    return dict(value)


def _mitigation(options: IbmOptions, mitigate: bool) -> Mitigation:
    if mitigate and options.resilience_level == 0:
        raise _option_error(
            "resilience_level",
            "0 turns error mitigation off, but use_mitigation asks for it: drop one of them",
        )
    level = options.resilience_level
    if level is None:
        level = _MITIGATED_RESILIENCE_LEVEL if mitigate else 0
    return Mitigation(
        requested=mitigate, resilience_level=level, readout=mitigate, measure_twirling=mitigate
    )


def _check_run_type(run_type: str) -> None:
    if run_type != "Run":
        raise ProviderError(
            "unsupported_option",
            f"run_type: IBM devices only sample shots (Run), not {run_type}; an exact "
            "statevector needs a local simulator such as aer_simulator_statevector",
            field="run_type",
        )


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    """What a run would refuse, checked before the job is recorded (no SDK import)."""
    _check_run_type(run_type)
    _mitigation(_parse_options(options, device), mitigate)


def primitive_options(
    kind: str,
    options: IbmOptions,
    mitigation: Mitigation,
    *,
    shots: int,
    job_tags: Sequence[str] = (),
    local: bool = False,
) -> Any:
    """The `SamplerOptions` / `EstimatorOptions` (qiskit_ibm_runtime.options_models) of a job."""
    from qiskit_ibm_runtime.options_models import EstimatorOptions, SamplerOptions

    values: dict[str, Any] = {"default_shots": shots}
    if options.dynamical_decoupling is not None:
        values["dynamical_decoupling"] = dict(options.dynamical_decoupling)
    twirling = dict(options.twirling or {})
    if kind == "sampler" and mitigation.measure_twirling:
        twirling.setdefault("enable_measure", True)
    if twirling:
        values["twirling"] = twirling
    if job_tags:
        values["environment"] = {"job_tags": list(job_tags)}
    if options.max_execution_time is not None:
        values["max_execution_time"] = options.max_execution_time
    if local and options.seed_simulator is not None:
        values["simulator"] = {"seed_simulator": options.seed_simulator}
    if kind == "sampler":
        return SamplerOptions(**values)
    if kind == "estimator":
        values["resilience_level"] = mitigation.resilience_level
        return EstimatorOptions(**values)
    raise ValueError(f"unknown primitive {kind!r}")


def _applied(kind: str, finalized: Any) -> dict[str, Any]:
    """What a primitive's finalized options turn on (for the result metadata)."""
    applied: dict[str, Any] = {
        "twirling": {
            "enable_gates": bool(finalized.twirling.enable_gates),
            "enable_measure": bool(finalized.twirling.enable_measure),
        },
        "dynamical_decoupling": finalized.dynamical_decoupling.enable
        and finalized.dynamical_decoupling.sequence_type,
    }
    if kind == "estimator":
        resilience = finalized.resilience
        applied["resilience_level"] = finalized.resilience_level
        applied["measure_mitigation"] = bool(resilience.measure_mitigation)
        applied["zne_mitigation"] = bool(resilience.zne_mitigation)
        applied["pec_mitigation"] = bool(resilience.pec_mitigation)
    return applied


def _finalized(kind: str, options: Any) -> Any:
    """The options as the primitive will apply them (resilience-level defaults resolved; e.g.
    measurement mitigation forces measurement twirling on, which the SDK only warns about)."""
    from qiskit_ibm_runtime.executor_estimator.finalize_options import (
        finalize_estimator_options,
    )
    from qiskit_ibm_runtime.executor_sampler.finalize_options import finalize_sampler_options

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "sampler":
            return finalize_sampler_options(options)
        return finalize_estimator_options(options)


# --- preparation -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    index: int
    isa: QuantumCircuit
    """Transpiled to the device (physical qubits); final measurements removed if estimating."""
    values: np.ndarray
    """(P, k) parameter sets in `isa.parameters` order (k may be 0 if transpiling dropped all)."""
    observables: list[SparsePauliOp] | None
    """Laid out on the physical qubits of `isa`; None: sampled."""
    labels: list[str]
    """Every Pauli label of the observables (logical order), for counting measurement bases."""
    shape: dict[str, int]

    @property
    def sets(self) -> int:
        return int(self.values.shape[0])


@dataclass
class _Loaded:
    index: int
    circuit: QuantumCircuit
    """As parsed; final measurements removed if estimating."""
    values: np.ndarray
    observables: list[SparsePauliOp] | None
    labels: list[str]


def _load_task(task: ExecutionTask, device: Device) -> list[_Loaded]:
    """Checks every circuit of the task (no transpiling, no network)."""
    _check_run_type(task.run_type)
    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    max_shots = int(_snapshot_configuration(_hardware(device)[0].snapshot).get("max_shots", 0))
    if task.shots < 1 or (max_shots and task.shots > max_shots):
        raise ProviderError(
            "invalid_shots", f"shots must be between 1 and {max_shots or 'the device maximum'}"
        )
    loaded: list[_Loaded] = []
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        circuit = load_circuit(circuit_task.source, where)
        values = parameter_array(circuit, circuit_task.parameter_sets, where)
        specs = circuit_task.observables or None
        if specs:
            circuit = circuit.remove_final_measurements(inplace=False)
        elif not has_measurements(circuit):
            raise ProviderError(
                "no_measurements",
                f"{where}: the circuit measures nothing; add measurements or give observables",
            )
        if circuit.num_qubits > device.qubits:
            raise ProviderError(
                "device_too_small",
                f"{where}: {circuit.num_qubits} qubits, but {device.id} has {device.qubits}",
            )
        loaded.append(
            _Loaded(
                index=index,
                circuit=circuit,
                values=values,
                observables=pauli_operators(specs, circuit.num_qubits, where) if specs else None,
                labels=sorted({p for spec in specs for p in spec.paulis}) if specs else [],
            )
        )
    return loaded


def _transpile(
    loaded: list[_Loaded], backend: BackendV2, options: IbmOptions, *, cache: bool
) -> tuple[list[_Prepared], float]:
    """Each circuit transpiled to `backend` (ISA), observables laid out on its qubits."""
    pass_manager = _pass_manager(
        backend, options.optimization_level, options.seed_transpiler, cache=cache
    )
    prepared: list[_Prepared] = []
    transpile_seconds = 0.0
    for item in loaded:
        started = time.perf_counter()
        try:
            isa = pass_manager.run(item.circuit)
        except Exception as error:
            raise ProviderError("transpile_failed", f"circuits[{item.index}]: {error}") from error
        transpile_seconds += time.perf_counter() - started
        observables = None
        if item.observables is not None:
            observables = [observable.apply_layout(isa.layout) for observable in item.observables]
        prepared.append(
            _Prepared(
                index=item.index,
                isa=isa,
                values=values_kept_by(item.values, item.circuit, isa),
                observables=observables,
                labels=item.labels,
                shape=transpiled_shape(isa),
            )
        )
    return prepared, transpile_seconds


def _prepare(
    task: ExecutionTask, device: Device, backend: BackendV2, options: IbmOptions
) -> tuple[list[_Prepared], float]:
    """Checks and transpiles a task for a calibration snapshot (cached pass managers)."""
    return _transpile(_load_task(task, device), backend, options, cache=True)


_PASS_MANAGERS: dict[tuple[str, int, int], StagedPassManager] = {}


def _pass_manager(backend: BackendV2, level: int, seed: int, *, cache: bool) -> StagedPassManager:
    """Built once per process for a calibration snapshot (`cache`); fresh for a live QPU,
    whose target changes with each calibration."""
    from qiskit.transpiler import generate_preset_pass_manager

    key = (backend.name, level, seed)
    manager = _PASS_MANAGERS.get(key) if cache else None
    if manager is None:
        manager = generate_preset_pass_manager(
            optimization_level=level, backend=backend, seed_transpiler=seed
        )
        if cache:
            if len(_PASS_MANAGERS) > 32:
                _PASS_MANAGERS.clear()
            _PASS_MANAGERS[key] = manager
    return manager


@functools.cache
def _fake_backend(fake_class: str) -> BackendV2:
    from qiskit_ibm_runtime import fake_provider

    backend: BackendV2 = getattr(fake_provider, fake_class)()
    return backend


def _measurement_bases(labels: Sequence[str]) -> int:
    """Qubit-wise commuting groups of Pauli labels: one measured circuit each."""
    if not labels:
        return 0
    from qiskit.quantum_info import PauliList

    return len(PauliList(list(labels)).group_qubit_wise_commuting())


# --- readout calibration (Sampler with mitigation) ---------------------------------------------


def _measured_qubits(circuit: QuantumCircuit) -> list[int] | str:
    from qorch.adapters.providers.pipeline.mitigation import measured_qubits

    return measured_qubits(circuit)


def _calibration_circuits(width: int, qubits: Sequence[int]) -> list[QuantumCircuit]:
    """All of `qubits` prepared in |0>, then in |1>, measured (native gates: x, measure)."""
    from qiskit import ClassicalRegister, QuantumCircuit

    circuits = []
    for excited in (False, True):
        circuit = QuantumCircuit(width)
        circuit.add_register(ClassicalRegister(len(qubits), "cal"))
        if excited:
            for qubit in qubits:
                circuit.x(qubit)
        circuit.measure(list(qubits), list(range(len(qubits))))
        circuits.append(circuit)
    return circuits


def _assignment_matrices(zeros: BitArray, ones: BitArray) -> list[list[list[float]]]:
    """Per calibrated qubit, [[P(0|0), P(0|1)], [P(1|0), P(1|1)]] (mthree's layout)."""
    flipped_up = zeros.to_bool_array(order="little").reshape(-1, zeros.num_bits).mean(axis=0)
    stayed_up = ones.to_bool_array(order="little").reshape(-1, ones.num_bits).mean(axis=0)
    return [
        [[1.0 - float(p10), 1.0 - float(p11)], [float(p10), float(p11)]]
        for p10, p11 in zip(flipped_up, stayed_up, strict=True)
    ]


def _correct_readout(
    counts: list[dict[str, int]],
    measured: list[int],
    calibrated: list[int],
    matrices: list[list[list[float]]],
) -> tuple[list[dict[str, float]], float]:
    """M3-corrected distributions per parameter set, and the largest mitigation overhead."""
    import mthree

    cals: list[np.ndarray] = [np.eye(2, dtype=np.float32)] * (max(calibrated) + 1)
    for qubit, matrix in zip(calibrated, matrices, strict=True):
        cals[qubit] = np.asarray(matrix, dtype=np.float32)
    mitigator = mthree.M3Mitigation()
    mitigator.cals_from_matrices(cals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quasis = mitigator.apply_correction(counts, measured, return_mitigation_overhead=True)
    distributions = []
    overhead = 1.0
    for quasi in quasis:
        overhead = max(overhead, float(quasi.mitigation_overhead))
        nearest = quasi.nearest_probability_distribution()
        distributions.append({key: float(p) for key, p in nearest.items() if p > 0})
    return distributions, overhead


# --- the primitive calls of one job (local or remote) ------------------------------------------


@dataclass
class _Batch:
    """The circuits of a job that go to one primitive."""

    kind: str
    circuits: list[_Prepared]
    executed: list[QuantumCircuit]
    """What the primitive runs, one per circuit (the ISA circuit, or its restriction)."""
    observables: list[list[SparsePauliOp]] = field(default_factory=list)
    """Per estimated circuit, its observables on `executed` qubits."""
    measured: dict[int, list[int] | str] = field(default_factory=dict)
    """Sampler with readout correction: circuit index -> qubit per clbit (or why skipped)."""
    calibrated: list[int] = field(default_factory=list)
    """Qubits of the calibration PUBs (appended after the circuits' PUBs)."""


def _batches(
    prepared: list[_Prepared],
    mitigation: Mitigation,
    restrict: Callable[[str, list[_Prepared]], tuple[list[QuantumCircuit], Any]] | None = None,
) -> list[tuple[_Batch, Any]]:
    """Splits circuits by primitive; `restrict` (local mode) maps them to a smaller device."""
    found: list[tuple[_Batch, Any]] = []
    for kind in ("sampler", "estimator"):
        chosen = [p for p in prepared if (p.observables is None) == (kind == "sampler")]
        if not chosen:
            continue
        if restrict is not None:
            executed, context = restrict(kind, chosen)
        else:
            executed, context = [p.isa for p in chosen], None
        batch = _Batch(kind=kind, circuits=chosen, executed=executed)
        if kind == "estimator":
            keep = context.qubits if context is not None else None
            for p in chosen:
                assert p.observables is not None
                batch.observables.append(
                    [_restrict_observable(o, keep) if keep else o for o in p.observables]
                )
        elif mitigation.readout:
            for p, circuit in zip(chosen, executed, strict=True):
                batch.measured[p.index] = _measured_qubits(circuit)
            batch.calibrated = sorted(
                {q for m in batch.measured.values() if not isinstance(m, str) for q in m}
            )
        found.append((batch, context))
    return found


def _pubs(batch: _Batch, shots: int) -> list[tuple[Any, ...]]:
    pubs: list[tuple[Any, ...]] = []
    for number, (p, circuit) in enumerate(zip(batch.circuits, batch.executed, strict=True)):
        if batch.kind == "estimator":
            observables = batch.observables[number]
            if p.values.shape[1]:
                # (O, 1) observables broadcast against (P, k) values -> evs of shape (O, P)
                pubs.append((circuit, [[o] for o in observables], p.values))
            else:  # nothing to bind (still one result per parameter set)
                pubs.append((circuit, [[o] for o in observables], np.zeros((p.sets, 0))))
        elif p.values.shape[1]:
            pubs.append((circuit, p.values, shots))
        else:
            # Nothing left to bind: one PUB per parameter set (all PUBs of a job take the
            # same shots, and a (P, 0) binding would not broadcast in the Sampler).
            pubs.extend((circuit, None, shots) for _ in range(p.sets))
    if batch.calibrated:
        width = batch.executed[0].num_qubits
        pubs.extend((c, None, shots) for c in _calibration_circuits(width, batch.calibrated))
    return pubs


def _convert(
    batch: _Batch, result: Any, shots: int, outcomes: list[CircuitOutcome]
) -> dict[str, Any]:
    """Fills the outcomes of a batch's circuits from its PrimitiveResult; returns metadata."""
    from qiskit.primitives import BitArray

    notes: dict[str, Any] = {}
    if batch.kind == "estimator":
        for p, pub_result in zip(batch.circuits, result, strict=False):
            evs = np.asarray(pub_result.data.evs, dtype=float).reshape(-1, p.sets)
            stds = np.asarray(pub_result.data.stds, dtype=float).reshape(-1, p.sets)
            outcomes[p.index].expectation_values = evs.tolist()
            outcomes[p.index].standard_errors = stds.tolist()
        return notes
    position = 0
    returned = 0
    for p in batch.circuits:
        arrays = []
        if p.values.shape[1]:
            joined = result[position].join_data()
            position += 1
            arrays.append(joined.array.reshape(p.sets, joined.num_shots, -1))
        else:
            for _ in range(p.sets):
                joined = result[position].join_data()
                position += 1
                arrays.append(joined.array.reshape(1, joined.num_shots, -1))
        array = np.concatenate(arrays, axis=0)
        returned = max(returned, array.shape[1])
        counts = counts_per_set(BitArray(_exactly(array, shots, p.index), joined.num_bits))
        outcomes[p.index].counts = counts
        outcomes[p.index].distributions = [{k: v / shots for k, v in c.items()} for c in counts]
    if returned > shots:
        notes["shots_returned"] = returned
    if batch.calibrated:
        zeros = result[position].data.cal
        ones = result[position + 1].data.cal
        matrices = _assignment_matrices(zeros, ones)
        corrected: list[int] = []
        skipped: dict[str, str] = {}
        overhead = 1.0
        for p in batch.circuits:
            measured = batch.measured.get(p.index)
            if isinstance(measured, str) or measured is None:
                skipped[str(p.index)] = measured or "not measured"
                continue
            raw = outcomes[p.index].counts
            assert raw is not None
            distributions, worst = _correct_readout(raw, measured, batch.calibrated, matrices)
            outcomes[p.index].distributions = distributions
            overhead = max(overhead, worst)
            corrected.append(p.index)
        notes["readout"] = {
            "method": "mthree (M3) readout-error correction",
            "calibration": "2 PUBs in the same job: all measured qubits in |0>, then in |1>",
            "calibration_shots": shots,
            "calibrated_qubits": list(batch.calibrated),
            "assignment_fidelity": [round(0.5 * (m[0][0] + m[1][1]), 6) for m in matrices],
            "circuits": corrected,
            "skipped": skipped,
            "max_mitigation_overhead": overhead,
            "counts": "raw, as measured (readout errors included)",
            "distributions": "nearest probability distribution to M3's quasi-probabilities",
        }
    return notes


def _exactly(array: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """(P, S, bytes) measured shots cut down to `shots` per set. With twirling the Sampler
    rounds shots up to randomizations x shots per randomization (1000 -> 32 x 32 = 1024); a
    uniformly random subset keeps the distribution and makes counts sum to the shots asked."""
    if array.shape[1] <= shots:
        return array
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(array.shape[1], size=shots, replace=False))
    return array[:, keep, :]


def _primitive(kind: str, mode: Any, options: Any) -> Any:
    if kind == "sampler":
        from qiskit_ibm_runtime.executor_sampler import Sampler

        return Sampler(mode=mode, options=options)
    from qiskit_ibm_runtime.executor_estimator import Estimator

    return Estimator(mode=mode, options=options)


def _outcomes(prepared: list[_Prepared]) -> list[CircuitOutcome]:
    return [CircuitOutcome(transpiled=dict(p.shape)) for p in prepared]


def _mitigation_metadata(
    requested: bool, applied: dict[str, dict[str, Any]], notes: dict[str, Any]
) -> dict[str, Any]:
    described: dict[str, Any] = {"requested": requested}
    for kind, facts in applied.items():
        described[kind] = dict(facts)
    if "readout" in notes:
        described.setdefault("sampler", {})["readout"] = notes["readout"]
    elif "sampler" in described:
        described["sampler"]["readout"] = None
    return described


# --- local testing mode ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Restriction:
    qubits: tuple[int, ...]
    """Physical qubits kept, in order (new index = position)."""
    simulator: Any


def run_task(
    task: ExecutionTask, device: Device, credentials: dict[str, str], config: ProviderConfig
) -> ExecutionOutcome:
    """Runs a task on a local testing mode device (no network, no credentials)."""
    hardware, remote = _hardware(device)
    if remote:
        raise ProviderError("internal", f"{device.id} is a remote QPU: submit it, do not run it")
    options = _parse_options(task.options, device)
    mitigation = _mitigation(options, task.use_mitigation)
    backend = _fake_backend(hardware.fake_class)
    prepared, transpile_seconds = _prepare(task, device, backend, options)
    outcomes = _outcomes(prepared)
    applied: dict[str, dict[str, Any]] = {}
    notes: dict[str, Any] = {}
    simulated: dict[str, list[int]] = {}

    def restrict(kind: str, chosen: list[_Prepared]) -> tuple[list[QuantumCircuit], Any]:
        return _restrict(hardware, backend, chosen)

    started = time.perf_counter()
    try:
        for batch, restriction in _batches(prepared, mitigation, restrict):
            primitive_opts = primitive_options(
                batch.kind, options, mitigation, shots=task.shots, local=True
            )
            applied[batch.kind] = _applied(batch.kind, _finalized(batch.kind, primitive_opts))
            simulated[batch.kind] = list(restriction.qubits)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                primitive = _primitive(batch.kind, restriction.simulator, primitive_opts)
                result = primitive.run(_pubs(batch, task.shots)).result()
            notes.update(_convert(batch, result, task.shots, outcomes))
    except ProviderError:
        raise
    except Exception as error:
        raise ProviderError("simulation_failed", f"{type(error).__name__}: {error}") from error
    metadata: dict[str, Any] = {
        "device": device.id,
        "execution": "qiskit-ibm-runtime local testing mode",
        "noise": f"{hardware.fake_class} ({_sdk_version()}), restricted to the qubits used",
        "simulated_qubits": simulated,
        "primitives": {kind: _PRIMITIVE_NAMES[kind] for kind in applied},
        "shots": task.shots,
        "optimization_level": options.optimization_level,
        "seed_transpiler": options.seed_transpiler,
        "seed_simulator": options.seed_simulator,
        "transpile_seconds": transpile_seconds,
        "execution_seconds": time.perf_counter() - started,
        "mitigation": _mitigation_metadata(mitigation.requested, applied, notes),
    }
    if "shots_returned" in notes:
        metadata["shots_measured"] = notes["shots_returned"]
        metadata["shots_note"] = _SHOTS_NOTE
    return ExecutionOutcome(circuits=outcomes, metadata=metadata)


_SHOTS_NOTE = (
    "twirling rounded the Sampler's shots up to randomizations x shots per randomization; "
    "counts hold a uniformly random subset of exactly `shots` of them"
)
_PRIMITIVE_NAMES = {
    "sampler": "qiskit_ibm_runtime.executor_sampler.Sampler",
    "estimator": "qiskit_ibm_runtime.executor_estimator.Estimator",
}


def _restrict(
    hardware: _Hardware, backend: BackendV2, chosen: list[_Prepared]
) -> tuple[list[QuantumCircuit], _Restriction]:
    """The circuits on a copy of the device cut down to the physical qubits they use."""
    if any(_has_control_flow(p.isa) for p in chosen):
        # Remapping control-flow blocks is not worth it: simulate the whole device.
        everything = tuple(range(backend.num_qubits))
        return [p.isa for p in chosen], _Restriction(everything, _full_simulator(hardware))
    used: set[int] = set()
    for p in chosen:
        mine = _used_qubits(p)
        if len(mine) > LOCAL_MAX_QUBITS:
            raise ProviderError(
                "too_many_qubits",
                f"circuits[{p.index}]: uses {len(mine)} qubits of the device; local testing "
                f"mode simulates at most {LOCAL_MAX_QUBITS} (a noisy simulation is dense)",
            )
        used |= mine
    qubits = tuple(sorted(used))
    simulator = _restricted_simulator(hardware.fake_class, qubits)
    position = {qubit: index for index, qubit in enumerate(qubits)}
    return [_remap(p.isa, position) for p in chosen], _Restriction(qubits, simulator)


def _has_control_flow(circuit: QuantumCircuit) -> bool:
    return any(getattr(i.operation, "blocks", None) for i in circuit.data)


def _used_qubits(p: _Prepared) -> set[int]:
    isa = p.isa
    used = {
        isa.find_bit(qubit).index
        for instruction in isa.data
        if instruction.operation.name != "barrier"
        for qubit in instruction.qubits
    }
    if isa.layout is not None:
        # Idle logical qubits still exist (an observable may read them as |0>).
        used.update(isa.layout.initial_index_layout(filter_ancillas=True))
    for observable in p.observables or []:
        support = np.any(observable.paulis.z | observable.paulis.x, axis=0)
        used.update(int(q) for q in np.flatnonzero(support))
    return used


def _remap(isa: QuantumCircuit, position: dict[int, int]) -> QuantumCircuit:
    from qiskit import QuantumCircuit, QuantumRegister

    small = QuantumCircuit(QuantumRegister(len(position), "q"), *isa.cregs)
    for instruction in isa.data:
        indices = [isa.find_bit(qubit).index for qubit in instruction.qubits]
        if instruction.operation.name == "barrier":
            kept = [small.qubits[position[i]] for i in indices if i in position]
            if kept:
                small.barrier(kept)
            continue
        small.append(
            instruction.operation,
            [small.qubits[position[i]] for i in indices],
            instruction.clbits,
            copy=False,
        )
    small.global_phase = isa.global_phase
    return small


def _restrict_observable(observable: SparsePauliOp, qubits: Sequence[int]) -> SparsePauliOp:
    from qiskit.quantum_info import PauliList, SparsePauliOp

    keep = list(qubits)
    paulis = observable.paulis
    restricted = PauliList.from_symplectic(paulis.z[:, keep], paulis.x[:, keep], paulis.phase)
    return SparsePauliOp(restricted, observable.coeffs)


@functools.lru_cache(maxsize=32)
def _restricted_simulator(fake_class: str, qubits: tuple[int, ...]) -> AerSimulator:
    """AerSimulator with the fake device's noise on `qubits` only (built once per process)."""
    from qiskit_aer import AerSimulator

    backend = _fake_backend(fake_class)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AerSimulator.from_backend(
            _subset_backend_class()(
                _restricted_target(backend.target, qubits), f"{backend.name}{list(qubits)}"
            )
        )


@functools.cache
def _full_simulator(hardware: _Hardware) -> AerSimulator:
    from qiskit_aer import AerSimulator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AerSimulator.from_backend(_fake_backend(hardware.fake_class))


def _restricted_target(target: Target, qubits: Sequence[int]) -> Target:
    """`target` on `qubits` only (renumbered 0..n-1), with their gate/readout properties."""
    from qiskit.transpiler import Target

    position = {qubit: index for index, qubit in enumerate(qubits)}
    properties = target.qubit_properties
    restricted = Target(
        num_qubits=len(qubits),
        dt=target.dt,
        granularity=target.granularity,
        min_length=target.min_length,
        pulse_alignment=target.pulse_alignment,
        acquire_alignment=target.acquire_alignment,
        qubit_properties=[properties[q] for q in qubits] if properties else None,
    )
    for name in target.operation_names:
        operation = target.operation_from_name(name)
        by_qargs = target[name]
        if isinstance(operation, type):  # variadic (control flow): global, no properties
            restricted.add_instruction(operation, name=name)
            continue
        if by_qargs is None or None in by_qargs:
            restricted.add_instruction(operation, {None: None}, name=name)
            continue
        kept = {
            tuple(position[q] for q in qargs): props
            for qargs, props in by_qargs.items()
            if all(q in position for q in qargs)
        }
        if kept:
            restricted.add_instruction(operation, kept, name=name)
    return restricted


@functools.cache
def _subset_backend_class() -> type:
    """Just enough of a BackendV2 for `AerSimulator.from_backend` (defined lazily: qiskit)."""
    from qiskit.providers import BackendV2, Options

    class SubsetBackend(BackendV2):  # type: ignore[misc]
        def __init__(self, target: Target, name: str) -> None:
            super().__init__(name=name)
            self._subset_target = target

        @property
        def target(self) -> Target:
            return self._subset_target

        @property
        def max_circuits(self) -> None:
            return None

        @classmethod
        def _default_options(cls) -> Options:
            return Options()

        def run(self, run_input: Any, **options: Any) -> Any:
            raise NotImplementedError("only used to build a simulator")

    return SubsetBackend


def warm_up() -> None:
    """Pays the SDK import (~1.5 s) in a fresh worker."""
    import qiskit_ibm_runtime.executor_estimator  # noqa: F401
    import qiskit_ibm_runtime.executor_sampler  # noqa: F401
    import qiskit_ibm_runtime.fake_provider  # noqa: F401


# --- dry runs ----------------------------------------------------------------------------------


def estimate_task(task: ExecutionTask, device: Device) -> CostEstimate:
    """Transpiles to the calibration snapshot and prices QPU time; never calls IBM."""
    hardware, remote = _hardware(device)
    options = _parse_options(task.options, device)
    mitigation = _mitigation(options, task.use_mitigation)
    backend = _fake_backend(hardware.fake_class)
    prepared, transpile_seconds = _prepare(task, device, backend, options)
    sets = [p.sets for p in prepared]
    bases = [_measurement_bases(p.labels) if p.observables is not None else 0 for p in prepared]
    zne = mitigation.resilience_level >= 2
    executions = []
    for p, count in zip(prepared, bases, strict=True):
        if p.observables is None:
            executions.append(p.sets)
        else:
            executions.append(p.sets * count * (len(_ZNE_NOISE_FACTORS) if zne else 1))
    durations = [_duration(p, backend) for p in prepared]
    breakdown: dict[str, Any] = {
        "device": device.id,
        "calibration_snapshot": f"{hardware.fake_class} (qiskit-ibm-runtime {_sdk_version()})",
        "parameter_sets": sets,
        "measurement_bases": bases,
        "executions_per_circuit": executions,
        "circuit_duration_seconds": durations,
        "optimization_level": options.optimization_level,
        "seed_transpiler": options.seed_transpiler,
        "transpile_seconds": transpile_seconds,
        "resilience_level": mitigation.resilience_level
        if any(p.observables is not None for p in prepared)
        else None,
        "readout_calibration": mitigation.readout and any(p.observables is None for p in prepared),
    }
    if not remote:
        seconds = _LOCAL_JOB_SECONDS + sum(
            e * _local_execution_seconds(p.shape, task.shots)
            for p, e in zip(prepared, executions, strict=True)
        )
        breakdown["model"] = (
            "local testing mode wall time: 0.1 s per job + per execution gates x "
            "min(shots x 2^n, 4^n) x 2 ns + 3 us per shot"
        )
        return CostEstimate(
            seconds=seconds, usd=0.0, circuits=[p.shape for p in prepared], breakdown=breakdown
        )
    prices = load_prices()
    time_model = prices["entries"][PRICE_KEY]["time"]
    extra = _calibration_executions(prepared, mitigation)
    costs = [
        _circuit_cost(p.shape, e, d, time_model["shot_overhead_seconds"])
        for p, e, d in zip(prepared, executions, durations, strict=True)
    ]
    if extra:
        measure = _measure_seconds(backend)
        first = costs[0]
        folded = extra * (measure + time_model["shot_overhead_seconds"])
        costs[0] = CircuitCost(
            first.shape, first.executions, (first.duration_seconds or 0.0) + folded
        )
    estimate = estimate_cost(prices, PRICE_KEY, task.shots, costs, mitigated=mitigation.requested)
    breakdown["calibration_executions"] = extra
    breakdown["qpu_time_model"] = (
        "per circuit: task_overhead + shots x executions x (shot_overhead + circuit duration); "
        "the circuit duration is the snapshot's (QuantumCircuit.estimate_duration), ZNE runs "
        f"{len(_ZNE_NOISE_FACTORS)} noise factors with folded (longer) circuits at the same "
        "duration here, calibration executions (readout / TREX learning) are added to the first "
        "circuit"
    )
    estimate.breakdown.update(breakdown)
    return estimate


def _circuit_cost(
    shape: dict[str, int], executions: int, duration: float | None, shot_overhead: float
) -> CircuitCost:
    """One CircuitCost per circuit: its executions folded into the per-shot duration, so the
    table's task overhead is paid once per circuit (IBM locks the QPU once per job) while every
    execution pays shots x (shot_overhead + duration)."""
    if duration is None:
        return CircuitCost(shape=shape, executions=executions, duration_seconds=None)
    folded = executions * duration + (executions - 1) * shot_overhead
    return CircuitCost(shape=shape, executions=1, duration_seconds=folded)


def _calibration_executions(prepared: list[_Prepared], mitigation: Mitigation) -> int:
    extra = 0
    if mitigation.readout and any(p.observables is None for p in prepared):
        extra += 2  # |0...0> and |1...1> calibration PUBs
    if mitigation.resilience_level >= 1 and any(p.observables is not None for p in prepared):
        extra += 1  # TREX readout-noise learning, about one execution's worth of shots
    return extra


def _duration(p: _Prepared, backend: BackendV2) -> float | None:
    """One shot's duration on the snapshot; the Estimator adds the readout (and a layer of
    basis changes, negligible) to circuits given without measurements."""
    try:
        duration = float(p.isa.estimate_duration(backend.target, "s"))
    except Exception:
        return None  # the price table's gate times are used instead
    if p.observables is not None:
        duration += _measure_seconds(backend)
    return duration


def _measure_seconds(backend: BackendV2) -> float:
    try:
        durations = [
            props.duration
            for props in backend.target["measure"].values()
            if props is not None and props.duration
        ]
    except KeyError:
        durations = []
    return float(max(durations)) if durations else 0.0


def _local_execution_seconds(shape: dict[str, int], shots: int) -> float:
    n, gates = shape["qubits"], shape["gates_1q"] + shape["gates_2q"]
    amplitudes = min(max(shots, 1) * 2.0**n, 4.0**n)
    return gates * amplitudes * _LOCAL_AMPLITUDE_SECONDS + shots * _LOCAL_SHOT_SECONDS


# --- IBM Quantum Platform: credentials, service, bounded calls ---------------------------------


def _token(credentials: dict[str, str]) -> str:
    token = credentials.get(TOKEN_OPTION)
    if not isinstance(token, str) or not token.strip():
        raise ProviderError(
            "invalid_credentials",
            f"options.{TOKEN_OPTION} is required: an IBM Cloud API key for IBM Quantum Platform",
            field="options",
        )
    token = token.strip()
    if _LEGACY_TOKEN_PATTERN.fullmatch(token):
        raise ProviderError(
            "invalid_credentials",
            f"options.{TOKEN_OPTION} looks like a legacy IBM Quantum Experience token (128 hex "
            "characters); that channel is retired: create an IBM Cloud API key on "
            "quantum.cloud.ibm.com",
            field="options",
        )
    if not API_KEY_PATTERN.fullmatch(token):
        raise ProviderError(
            "invalid_credentials",
            f"options.{TOKEN_OPTION} is not an IBM Cloud API key (expected 44 characters of "
            f"letters, digits, '-' and '_'; got {len(token)} characters)",
            field="options",
        )
    return token


def _instance(credentials: dict[str, str]) -> str | None:
    instance = credentials.get(INSTANCE_OPTION)
    if instance is None or instance == "":
        return None
    if not isinstance(instance, str) or len(instance) > 512 or any(c.isspace() for c in instance):
        raise ProviderError(
            "invalid_credentials",
            f"options.{INSTANCE_OPTION} must be an instance CRN or service name without spaces",
            field="options",
        )
    return instance


_SERVICES: dict[tuple[str, str | None, str | None], Any] = {}
_SERVICES_LOCK = threading.Lock()
_MAX_SERVICES = 8


def _service(token: str, instance: str | None, config: ProviderConfig) -> Any:
    """A QiskitRuntimeService per (token, instance, url), kept per process (it costs several
    IAM and API requests to build); keyed by the token's hash, never the token."""
    key = (hashlib.sha256(token.encode()).hexdigest(), instance, config.ibm_url)
    with _SERVICES_LOCK:
        found = _SERVICES.get(key)
    if found is not None:
        return found
    service = _connect(token, instance, config.ibm_url)
    with _SERVICES_LOCK:
        if len(_SERVICES) >= _MAX_SERVICES:
            _SERVICES.pop(next(iter(_SERVICES)))
        _SERVICES[key] = service
    return service


def _forget_service(token: str) -> None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with _SERVICES_LOCK:
        for key in [k for k in _SERVICES if k[0] == digest]:
            del _SERVICES[key]


def _connect(token: str, instance: str | None, url: str | None) -> Any:
    """Builds the SDK's service (IAM token exchange, instance lookup: network)."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    arguments: dict[str, Any] = {"channel": CHANNEL, "token": token, "instance": instance or "auto"}
    if url:
        arguments["url"] = url
    return QiskitRuntimeService(**arguments)


def _bounded(work: Callable[[], T], config: ProviderConfig, what: str, token: str) -> T:
    """Runs `work` (SDK calls) in a daemon thread and stops waiting at 90 % of the call
    timeout: the SDK's runtime session has no read timeout, IAM's is 60 s. Errors come back
    mapped to ProviderError, with the token scrubbed."""
    limit = max(1.0, 0.9 * config.call_timeout)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as error:  # handed to the caller's thread
            box["error"] = error

    thread = threading.Thread(target=target, name=f"qorch-ibm-{what}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise ProviderError(
            "provider_timeout",
            f"IBM Quantum did not answer ({what}) within {limit:.0f} s",
            retryable=True,
        )
    if "error" in box:
        error = _provider_error(box["error"], token, what)
        if error.code == "invalid_credentials":
            _forget_service(token)
        raise error from None
    value: T = box["value"]
    return value


def _remote(device: Device) -> _Hardware:
    hardware, remote = _hardware(device)
    if not remote:
        raise ProviderError("internal", f"{device.id} runs in local testing mode: use run_task")
    return hardware


def _tag(client_token: str, kind: str) -> str:
    return f"qorch:{client_token}:{kind}"


def submit_task(
    task: ExecutionTask, device: Device, credentials: dict[str, str], config: ProviderConfig
) -> ProviderJob:
    """Transpiles to the QPU's current target and submits (or finds) one IBM job per primitive."""
    _remote(device)
    options = _parse_options(task.options, device)
    mitigation = _mitigation(options, task.use_mitigation)
    token, instance = _token(credentials), _instance(credentials)
    loaded = _load_task(task, device)  # a bad circuit fails before any network call

    def work() -> ProviderJob:
        service = _service(token, instance, config)
        backend = service.backend(device.id)
        prepared, transpile_seconds = _transpile(loaded, backend, options, cache=False)
        entries: list[dict[str, Any]] = []
        applied: dict[str, dict[str, Any]] = {}
        for batch, _ in _batches(prepared, mitigation):
            tags = [_tag(task.client_token, batch.kind)] if task.client_token else []
            primitive_opts = primitive_options(
                batch.kind, options, mitigation, shots=task.shots, job_tags=tags
            )
            applied[batch.kind] = _applied(batch.kind, _finalized(batch.kind, primitive_opts))
            job_id = _existing_job(service, device.id, tags)
            reused = job_id is not None
            if job_id is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    primitive = _primitive(batch.kind, backend, primitive_opts)
                    job_id = str(primitive.run(_pubs(batch, task.shots)).job_id())
            entries.append(
                {
                    "id": job_id,
                    "primitive": batch.kind,
                    "circuits": [p.index for p in batch.circuits],
                    "measured": {str(k): v for k, v in batch.measured.items()},
                    "calibrated": list(batch.calibrated),
                    "unbound": [p.index for p in batch.circuits if not p.values.shape[1]],
                    "reused": reused,
                }
            )
        return ProviderJob(
            provider=PROVIDER,
            ids=tuple(entry["id"] for entry in entries),
            data={
                "backend": device.id,
                "jobs": entries,
                "shapes": [p.shape for p in prepared],
                "applied": applied,
                "mitigation_requested": mitigation.requested,
                "optimization_level": options.optimization_level,
                "seed_transpiler": options.seed_transpiler,
                "transpile_seconds": transpile_seconds,
                "shots": task.shots,
            },
        )

    return _bounded(work, config, "submit", token)


def _existing_job(service: Any, backend_name: str, tags: list[str]) -> str | None:
    """A job already submitted for this task (same tag), e.g. before a lost answer."""
    if not tags:
        return None
    found = service.jobs(job_tags=tags, backend_name=backend_name, limit=_JOB_LOOKUP_LIMIT)
    for job in found:
        if set(tags) <= set(getattr(job, "tags", None) or tags):
            return str(job.job_id())
    return None


def _status_name(status: Any) -> str:
    name = getattr(status, "name", status)
    return str(name).upper()


_ERROR_CODE = re.compile(r"[Ee]rror code:? ?(\d+)")


def poll_task(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    credentials: dict[str, str],
    config: ProviderConfig,
) -> ExecutionOutcome | None:
    """None while any IBM job of the task is queued or running; the outcome when all are done."""
    _remote(device)
    token, instance = _token(credentials), _instance(credentials)
    entries: list[dict[str, Any]] = list(job.data.get("jobs") or [])
    if not entries:
        entries = [{"id": i, "primitive": "sampler"} for i in job.ids]

    def work() -> ExecutionOutcome | None:
        service = _service(token, instance, config)
        runtime_jobs = []
        for entry in entries:
            runtime_job = service.job(entry["id"])
            status = _status_name(runtime_job.status())
            if status in ("ERROR", "FAILED"):
                message = str(runtime_job.error_message() or "no reason given")
                found = _ERROR_CODE.search(message)
                code = found.group(1) if found else getattr(runtime_job, "_reason_code", None)
                raise ProviderError(
                    "provider_failed",
                    f"IBM job {entry['id']} failed: {_scrub(message, token)}",
                    provider_code=str(code) if code is not None else None,
                )
            if status == "CANCELLED":
                raise ProviderError(
                    "provider_cancelled", f"IBM job {entry['id']} was cancelled at IBM Quantum"
                )
            if status != "DONE":
                return None
            runtime_jobs.append(runtime_job)
        return _remote_outcome(task, device, job, entries, runtime_jobs)

    return _bounded(work, config, "poll", token)


def _remote_outcome(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    entries: list[dict[str, Any]],
    runtime_jobs: list[Any],
) -> ExecutionOutcome:
    shapes: list[dict[str, int]] = list(job.data.get("shapes") or [{}] * len(task.circuits))
    outcomes = [CircuitOutcome(transpiled=dict(shape)) for shape in shapes]
    notes: dict[str, Any] = {}
    usage: dict[str, float | None] = {}
    for entry, runtime_job in zip(entries, runtime_jobs, strict=True):
        unbound = set(entry.get("unbound") or [])
        circuits = [_Stub.of(task, i, i in unbound) for i in entry.get("circuits", [])]
        batch = _Batch(
            kind=entry["primitive"],
            circuits=circuits,  # type: ignore[arg-type]
            executed=[],
            measured={int(k): v for k, v in (entry.get("measured") or {}).items()},
            calibrated=list(entry.get("calibrated") or []),
        )
        result = runtime_job.result()
        notes.update(_convert(batch, result, task.shots, outcomes))
        try:
            usage[entry["id"]] = float(runtime_job.usage())
        except Exception:
            usage[entry["id"]] = None
    applied: dict[str, dict[str, Any]] = dict(job.data.get("applied") or {})
    requested = bool(job.data.get("mitigation_requested"))
    metadata: dict[str, Any] = {
        "device": device.id,
        "execution": "IBM Quantum Platform",
        "backend": job.data.get("backend", device.id),
        "provider_job_ids": list(job.ids),
        "primitives": {e["primitive"]: _PRIMITIVE_NAMES[e["primitive"]] for e in entries},
        "shots": task.shots,
        "optimization_level": job.data.get("optimization_level"),
        "seed_transpiler": job.data.get("seed_transpiler"),
        "qpu_seconds": usage,
        "mitigation": _mitigation_metadata(requested, applied, notes),
    }
    if "shots_returned" in notes:
        metadata["shots_measured"] = notes["shots_returned"]
        metadata["shots_note"] = _SHOTS_NOTE
    return ExecutionOutcome(circuits=outcomes, metadata=metadata)


@dataclass
class _Stub:
    """What result conversion needs of a circuit when polling (no re-transpiling)."""

    index: int
    values: np.ndarray
    observables: list[Any] | None

    @property
    def sets(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def of(cls, task: ExecutionTask, index: int, unbound: bool) -> _Stub:
        circuit = task.circuits[index]
        sets = len(circuit.parameter_sets) if circuit.parameter_sets else 1
        # Unbound: nothing was left to bind, the Sampler ran shots x sets in one PUB.
        width = 0 if unbound else 1
        return cls(index, np.zeros((sets, width)), list(circuit.observables or []) or None)


def cancel_task(
    device: Device, job: ProviderJob, credentials: dict[str, str], config: ProviderConfig
) -> None:
    _remote(device)
    token, instance = _token(credentials), _instance(credentials)

    def work() -> None:
        from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

        service = _service(token, instance, config)
        for job_id in job.ids:
            with contextlib.suppress(RuntimeInvalidStateError):  # already final
                service.job(job_id).cancel()

    _bounded(work, config, "cancel", token)


def live_status(
    devices: list[Device], credentials: dict[str, str], config: ProviderConfig
) -> dict[str, dict[str, Any]]:
    """Operational state and queue length of each QPU (`backend.status()`)."""
    found: dict[str, dict[str, Any]] = {}
    remote = []
    for device in devices:
        if device.id in LOCAL_DEVICES:
            found[device.id] = {"status": "online", "queue_length": 0}
        elif device.id in QPUS:
            remote.append(device)
    if not remote:
        return found
    token, instance = _token(credentials), _instance(credentials)

    def work() -> dict[str, dict[str, Any]]:
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        service = _service(token, instance, config)
        statuses: dict[str, dict[str, Any]] = {}
        for device in remote:
            try:
                status = service.backend(device.id).status()
            except QiskitBackendNotFoundError:
                statuses[device.id] = {
                    "status": "unavailable",
                    "queue_length": None,
                    "detail": "not available to this IBM Quantum instance",
                }
                continue
            message = str(getattr(status, "status_msg", "") or "")
            if not status.operational:
                state = "offline"
            elif message and message.lower() not in ("active", "online"):
                state = message.lower()
            else:
                state = "online"
            statuses[device.id] = {
                "status": state,
                "queue_length": int(status.pending_jobs),
                "detail": message,
            }
        return statuses

    found.update(_bounded(work, config, "status", token))
    return found


# --- errors ------------------------------------------------------------------------------------


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _http_facts(chain: list[BaseException]) -> tuple[int | None, float | None]:
    """The first HTTP status in the chain and its Retry-After (seconds), if any."""
    status: int | None = None
    retry_after: float | None = None
    for error in chain:
        # (not `or`: a requests.Response is falsy when its status is an error)
        response = getattr(error, "response", None)
        if response is None:
            response = getattr(error, "http_response", None)
        code = getattr(response, "status_code", None)
        if not isinstance(code, int):
            code = getattr(error, "status_code", None)
        if isinstance(code, int) and code > 0 and status is None:
            status = code
        headers = getattr(response, "headers", None)
        if headers is not None and retry_after is None:
            retry_after = retry_after_seconds(headers.get("Retry-After"))
    return status, retry_after


def _scrub(text: str, token: str) -> str:
    return str(without_secrets(text, {"token": token}))


def _provider_error(error: BaseException, token: str, what: str) -> ProviderError:
    """Maps an SDK/HTTP failure to our codes (never echoing the token)."""
    if isinstance(error, ProviderError):
        return error
    import requests

    chain = list(_chain(error))
    names = {type(e).__name__ for e in chain}
    status, retry_after = _http_facts(chain)
    text = _scrub(str(error), token)
    code = str(status) if status is not None else None
    if status is None and any(isinstance(e, requests.exceptions.Timeout) for e in chain):
        return ProviderError(
            "provider_timeout", f"IBM Quantum timed out ({what}): {text}", retryable=True
        )
    if status is None and any(isinstance(e, requests.exceptions.ConnectionError) for e in chain):
        reason = _scrub(str(chain[-1]), token)
        return ProviderError(
            "provider_unavailable",
            f"IBM Quantum could not be reached ({what}): {reason}",
            retryable=True,
        )
    if status in (401, 403) or "IBMNotAuthorizedError" in names:
        return ProviderError(
            "invalid_credentials",
            f"IBM Quantum refused the credentials in options.{TOKEN_OPTION} ({what}): {text}",
            field="options",
            provider_code=code,
        )
    if status == 400 and "ApiException" in names:  # IBM Cloud IAM: "API key not found"
        return ProviderError(
            "invalid_credentials",
            f"IBM Cloud IAM rejected the API key in options.{TOKEN_OPTION}: "
            + _scrub(str(getattr(_first(chain, "ApiException"), "message", "") or text), token),
            field="options",
            provider_code=code,
        )
    if status == 429:
        return ProviderError(
            "rate_limited",
            f"IBM Quantum rate limit ({what}): {text}",
            retryable=True,
            provider_code=code,
            retry_after=retry_after,
        )
    if (status is not None and status >= 500) or "maintenance" in text.lower():
        return ProviderError(
            "provider_unavailable",
            f"IBM Quantum is unavailable ({what}): {text}",
            retryable=True,
            provider_code=code,
            retry_after=retry_after,
        )
    if names & {"InvalidAccountError", "CloudResourceNameResolutionError"} or (
        "IBMInputValueError" in names and "instance" in text.lower()
    ):
        return ProviderError(
            "invalid_credentials",
            f"IBM Quantum did not accept options.{TOKEN_OPTION} / options.{INSTANCE_OPTION}: "
            f"{text}",
            field="options",
            provider_code=code,
        )
    if "RuntimeJobNotFound" in names:
        return ProviderError("provider_failed", f"IBM Quantum has no such job: {text}")
    if "QiskitBackendNotFoundError" in names:
        return ProviderError(
            "provider_rejected",
            f"the backend is not available to this IBM Quantum instance: {text}",
        )
    if status is not None and 400 <= status < 500:
        return ProviderError(
            "provider_rejected",
            f"IBM Quantum rejected the request ({what}): {text}",
            provider_code=code,
        )
    return ProviderError(
        "provider_failed", f"IBM Quantum call failed ({what}): {type(error).__name__}: {text}"
    )


def _first(chain: list[BaseException], name: str) -> BaseException | None:
    return next((e for e in chain if type(e).__name__ == name), None)
