"""IonQ: the cloud simulator and the Aria / Forte QPUs, through qiskit-ionq 1.1.1 (REST API v0.4).

Called inside worker processes; qiskit-ionq is imported lazily. What this adapter does:

- Circuits are transpiled here, to IonQ's "qis" gateset in Qiskit terms (no coupling map: the
  machines are all-to-all), and parameters are bound locally: one IonQ job per circuit x
  parameter set x measurement group (observables are estimated from shots with
  `qorch.adapters.providers.pipeline.observables`). A dry run does exactly this and prices the gate counts
  with the versioned price table; it never calls IonQ.
- Every call to IonQ is bounded: qiskit-ionq's client retries some calls forever (its `retry`
  decorator with `tries=-1` on job and result GETs; five immediate attempts on submit, which
  would also resubmit after a 502-504 and ignore Retry-After). We call the undecorated methods
  (one attempt each; the executor retries with backoff and honours `retry_after`), each in a
  daemon thread that we stop waiting for when the call's time budget (`config.call_timeout`,
  shared by all requests of one adapter call) is spent.
- IonQ has no idempotency key. Each job carries `qorch_token` (the task's client token) and
  `qorch_execution` in its metadata and name; before submitting, `submit_task` lists the recent
  jobs on the backend (`GET /jobs?target=...`, newest first, up to `LOOKUP_PAGES` pages) and
  reuses those it already created, so a retried submit after a lost answer or a partial failure
  does not create (and pay for) a second job. A POST still waiting for its answer in an
  abandoned thread of this process is waited for, not repeated.
- qiskit-ionq sizes its backends with an unauthenticated `GET {IONQ_API_URL}/backends/...`
  that ignores `url=`; we point `IONQ_API_URL` (and `QISKIT_IONQ_API_URL`, which it reads first)
  at the configured URL only while the provider is built, under a lock, and restore them.
- Counts: the ideal simulator returns exact probabilities; counts are then drawn from them
  (multinomial, seeded by option `sampler_seed` or by the IonQ job id, so re-polling gives the
  same counts). QPUs and noise models return measured frequencies: counts are p x shots rounded
  with largest remainders (each dict sums to shots).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.pipeline.circuits import (
    check_observables,
    has_measurements,
    load_circuit,
    option_integer,
    parameter_sets,
)
from qorch.adapters.providers.pipeline.retry_after import retry_after_seconds
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

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import StagedPassManager
    from qiskit_ionq import IonQProvider
    from qiskit_ionq.ionq_backend import IonQBackend
    from qiskit_ionq.ionq_client import IonQClient

    from qorch.adapters.providers.pipeline.observables import MeasurementPlan

PROVIDER = "ionq"

QIS_BASIS: tuple[str, ...] = (
    "x",
    "y",
    "z",
    "h",
    "s",
    "sdg",
    "t",
    "tdg",
    "sx",
    "sxdg",
    "rx",
    "ry",
    "rz",
    "cx",
    "swap",
)
"""IonQ's "qis" gateset in Qiskit names (qiskit-ionq serialises si, ti, v, vi, cnot from these)."""

NOISE_MODELS: tuple[str, ...] = ("ideal", "aria-1", "aria-2", "forte-1", "forte-enterprise-1")
"""Noise models of IonQ's simulator (API v0.4)."""

SUPPORTED_OPTIONS = ("noise_model", "sampler_seed", "optimization_level")
SIMULATOR_ONLY_OPTIONS = ("noise_model", "sampler_seed")
DEFAULT_OPTIMIZATION_LEVEL = 1  # IonQ recommends 0-1 for the qis gateset
DEBIAS_MIN_SHOTS = 500  # IonQ refuses debiasing below 500 shots
MAX_SHOTS = 1_000_000
MAX_SEED = 2**31 - 1  # the API's noise seed is an int32
LOOKUP_PAGES = 5
LOOKUP_PAGE_SIZE = 100
URL_VARIABLES = ("QISKIT_IONQ_API_URL", "IONQ_API_URL")

# Simulator wall time for estimates (order of magnitude): per job, queueing and overhead, plus
# per gate and amplitude.
_SIM_JOB_SECONDS = 2.0
_SIM_AMPLITUDE_SECONDS = 1e-9


@dataclass(frozen=True)
class _Spec:
    backend: str
    """The backend's name in IonQ's API."""
    name: str
    qubits: int
    simulator: bool
    price_key: str | None
    description: str


_DEVICES: dict[str, _Spec] = {
    "ionq_simulator": _Spec(
        "simulator",
        "IonQ simulator",
        29,
        True,
        None,
        "IonQ's cloud simulator (free): ideal, or with a QPU noise model via option noise_model "
        f"({', '.join(NOISE_MODELS)})",
    ),
    "ionq_aria_1": _Spec(
        "qpu.aria-1",
        "IonQ Aria 1",
        25,
        False,
        "ionq:aria",
        "IonQ Aria 1 trapped-ion QPU, all-to-all connectivity; use_mitigation = IonQ debiasing",
    ),
    "ionq_forte_1": _Spec(
        "qpu.forte-1",
        "IonQ Forte 1",
        36,
        False,
        "ionq:forte",
        "IonQ Forte 1 trapped-ion QPU, all-to-all connectivity; use_mitigation = IonQ debiasing",
    ),
}


def devices() -> list[Device]:
    """The static catalogue: no network, no credentials."""
    return [
        Device(
            id=device_id,
            provider=PROVIDER,
            vendor="IonQ",
            name=spec.name,
            qubits=spec.qubits,
            simulator=spec.simulator,
            description=spec.description,
            basis_gates=QIS_BASIS,
            coupling_map=None,
            noisy=not spec.simulator,
            supports_statevector=False,
            remote=True,
            credentials=("ionq_api_key",),
            price_key=spec.price_key,
            extra={"ionq_backend": spec.backend}
            | ({"noise_models": list(NOISE_MODELS)} if spec.simulator else {}),
        )
        for device_id, spec in _DEVICES.items()
    ]


# --- checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    noise_model: str | None
    sampler_seed: int | None
    optimization_level: int


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    """What a run would refuse, checked before the job is recorded."""
    _check_run_type(run_type)
    parsed = _parse_options(device, options)
    _mitigation(device, parsed, mitigate, shots=None)


def _spec(device: Device) -> _Spec:
    try:
        return _DEVICES[device.id]
    except KeyError:
        raise ProviderError("unknown_device", f"{device.id!r} is not an IonQ device") from None


def _check_run_type(run_type: str) -> None:
    if run_type != "Run":
        raise ProviderError(
            "unsupported_option",
            f"run_type {run_type!r}: IonQ devices return measured shots only (use run_type 'Run',"
            " or a local statevector simulator for exact states)",
            field="run_type",
        )


def _parse_options(device: Device, options: dict[str, Any]) -> _Options:
    simulator = _spec(device).simulator
    for name in options:
        if name not in SUPPORTED_OPTIONS:
            raise ProviderError(
                "unsupported_option",
                f"options.{name}: not supported on IonQ devices "
                f"(supported: {', '.join(SUPPORTED_OPTIONS)}; credentials: ionq_api_key)",
                field=f"options.{name}",
            )
        if name in SIMULATOR_ONLY_OPTIONS and not simulator:
            raise ProviderError(
                "unsupported_option",
                f"options.{name}: applies to ionq_simulator only, not to the QPU {device.id}",
                field=f"options.{name}",
            )
    noise_model = options.get("noise_model")
    if noise_model is not None and noise_model not in NOISE_MODELS:
        raise ProviderError(
            "invalid_option",
            f"options.noise_model: expected one of {', '.join(NOISE_MODELS)}",
            field="options.noise_model",
        )

    level = option_integer(options, "optimization_level", 3)
    return _Options(
        noise_model=(noise_model or "ideal") if simulator else None,
        sampler_seed=option_integer(options, "sampler_seed", MAX_SEED),
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
    )


def _mitigation(device: Device, options: _Options, mitigate: bool, shots: int | None) -> str:
    """ "none", "none (ideal simulator)" or "debiasing"; raises what IonQ would refuse."""
    if not mitigate:
        return "none"
    if _spec(device).simulator:
        if options.noise_model == "ideal":
            return "none (ideal simulator)"
        raise ProviderError(
            "unsupported_option",
            "use_mitigation: IonQ's debiasing runs on QPUs only; the simulator with a noise "
            "model cannot mitigate it",
            field="use_mitigation",
        )
    if shots is not None and shots < DEBIAS_MIN_SHOTS:
        raise ProviderError(
            "unsupported_option",
            f"use_mitigation: IonQ's debiasing needs at least {DEBIAS_MIN_SHOTS} shots",
            field="use_mitigation",
        )
    return "debiasing"


# --- preparation (local, no network) ---------------------------------------------------------


@dataclass
class _Circuit:
    """One circuit of the task, transpiled: one measured circuit per measurement group."""

    measured: list[QuantumCircuit]
    """Transpiled to the qis basis; parameters still free."""
    clbits: list[list[int | None]]
    """Per measured circuit: the qubit each classical bit reads (None: never measured)."""
    names: list[str]
    """Parameter names in binding order (the original circuit's, sorted)."""
    values: list[tuple[float, ...]]
    """Parameter sets (one empty set when the circuit has no parameters)."""
    plan: MeasurementPlan | None
    shapes: list[dict[str, int]]

    @property
    def executions(self) -> int:
        return len(self.values) * len(self.measured)

    def bound(self, parameter_set: int, group: int) -> QuantumCircuit:
        circuit = self.measured[group]
        if not circuit.parameters:
            return circuit
        values = self.values[parameter_set]
        index = {name: i for i, name in enumerate(self.names)}
        return circuit.assign_parameters(
            {parameter: values[index[parameter.name]] for parameter in circuit.parameters}
        )


def _prepare(task: ExecutionTask, device: Device, options: _Options) -> list[_Circuit]:
    from qorch.adapters.providers.pipeline.observables import measurement_circuits

    _check_run_type(task.run_type)
    if isinstance(task.shots, bool) or not 1 <= task.shots <= MAX_SHOTS:
        raise ProviderError("invalid_shots", f"shots must be an integer in 1..{MAX_SHOTS}")
    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    pass_manager = _pass_manager(options.optimization_level)
    prepared = []
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        circuit = load_circuit(circuit_task.source, where)
        if circuit.num_qubits > device.qubits:
            raise ProviderError(
                "device_too_small",
                f"{where}: {circuit.num_qubits} qubits, but {device.id} has {device.qubits}",
            )
        _check_flat(circuit, where)
        names, values = _parameter_sets(circuit, circuit_task.parameter_sets, where)
        plan = None
        if circuit_task.observables:
            check_observables(circuit_task.observables, circuit.num_qubits, where)
            plan = measurement_circuits(circuit, circuit_task.observables)
            measured = list(plan.circuits)
        elif not has_measurements(circuit):
            raise ProviderError(
                "no_measurements",
                f"{where}: the circuit measures nothing; add measurements or give observables",
            )
        else:
            measured = [circuit]
        try:
            transpiled = [pass_manager.run(c) for c in measured]
        except Exception as error:
            raise ProviderError("transpile_failed", f"{where}: {error}") from error
        prepared.append(
            _Circuit(
                measured=transpiled,
                clbits=[_clbit_map(c) for c in transpiled],
                names=names,
                values=values,
                plan=plan,
                shapes=[transpiled_shape(c) for c in transpiled],
            )
        )
    return prepared


@functools.cache
def _pass_manager(optimization_level: int) -> StagedPassManager:
    from qiskit.transpiler import generate_preset_pass_manager

    # No coupling map: IonQ's machines are all-to-all, so no layout or routing (qubit i stays i).
    return generate_preset_pass_manager(
        optimization_level=optimization_level, basis_gates=list(QIS_BASIS)
    )


def _check_flat(circuit: QuantumCircuit, where: str) -> None:
    """ionq.circuit.v1 measures every qubit once at the end: no reset, mid-circuit measurement
    or control flow (qiskit-ionq would switch to OpenQASM 3 jobs, which qorch does not use)."""
    from qiskit.circuit import ControlFlowOp

    measured: set[int] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name in ("barrier", "delay"):
            continue
        if isinstance(operation, ControlFlowOp) or operation.name == "reset":
            raise ProviderError(
                "unsupported_circuit",
                f"{where}: IonQ devices run no {operation.name} (only gates, then measurements)",
            )
        qubits = {circuit.find_bit(q).index for q in instruction.qubits}
        if operation.name == "measure":
            measured |= qubits
        elif measured & qubits:
            raise ProviderError(
                "unsupported_circuit",
                f"{where}: IonQ devices measure at the end only; '{operation.name}' acts on a "
                "measured qubit",
            )


def _parameter_sets(
    circuit: QuantumCircuit, given: tuple[tuple[float, ...], ...] | None, where: str
) -> tuple[list[str], list[tuple[float, ...]]]:
    names = [parameter.name for parameter in circuit.parameters]
    return names, parameter_sets(circuit, given, where)


def _clbit_map(circuit: QuantumCircuit) -> list[int | None]:
    qubit_of: list[int | None] = [None] * circuit.num_clbits
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            qubit = circuit.find_bit(instruction.qubits[0]).index
            qubit_of[circuit.find_bit(instruction.clbits[0]).index] = qubit
    return qubit_of


def _executions(circuits: list[_Circuit]) -> Iterator[tuple[int, int, int]]:
    """(circuit, parameter set, group) in submission order."""
    for c, circuit in enumerate(circuits):
        for p in range(len(circuit.values)):
            for g in range(len(circuit.measured)):
                yield c, p, g


# --- dry run ---------------------------------------------------------------------------------


def estimate_task(task: ExecutionTask, device: Device) -> CostEstimate:
    """Transpiles like a run would and prices it from the price table; never calls IonQ."""
    from qorch.adapters.providers.pipeline.prices import load_prices
    from qorch.domain.pricing import CircuitCost, estimate_cost

    spec = _spec(device)
    options = _parse_options(device, task.options)
    mitigation = _mitigation(device, options, task.use_mitigation, task.shots)
    circuits = _prepare(task, device, options)
    shapes = [circuit.shapes[0] for circuit in circuits]
    executions = [circuit.executions for circuit in circuits]
    details = {
        "device": device.id,
        "ionq_backend": spec.backend,
        "jobs_per_circuit": executions,
        "measurement_groups": [len(circuit.measured) for circuit in circuits],
        "optimization_level": options.optimization_level,
        "mitigation": mitigation,
    }
    if device.price_key is None:
        per_circuit = [
            circuit.executions * _simulator_seconds(shape)
            for circuit in circuits
            for shape in circuit.shapes[:1]
        ]
        return CostEstimate(
            seconds=sum(per_circuit),
            usd=0.0,
            circuits=shapes,
            breakdown={
                **details,
                "noise_model": options.noise_model,
                "per_circuit_seconds": per_circuit,
                "model": f"free; per job {_SIM_JOB_SECONDS:g} s + gates x 2^qubits x "
                f"{_SIM_AMPLITUDE_SECONDS:g} s",
            },
        )
    costs = [
        CircuitCost(shape=shape, executions=len(circuit.values))
        for circuit in circuits
        for shape in circuit.shapes
    ]
    estimate = estimate_cost(
        load_prices(),
        device.price_key,
        task.shots,
        costs,
        mitigated=mitigation == "debiasing",
    )
    # One priced entry per (circuit, measurement group); the answer lists shapes per circuit.
    return CostEstimate(
        seconds=estimate.seconds,
        usd=estimate.usd,
        circuits=shapes,
        breakdown={**estimate.breakdown, **details},
    )


def _simulator_seconds(shape: dict[str, int]) -> float:
    gates = shape["gates_1q"] + shape["gates_2q"]
    return _SIM_JOB_SECONDS + gates * 2.0 ** shape["qubits"] * _SIM_AMPLITUDE_SECONDS


# --- calls to IonQ, bounded ------------------------------------------------------------------

_T = TypeVar("_T")
_ENV_LOCK = threading.Lock()


class _Budget:
    """The time one adapter call may spend on IonQ, shared by all its requests.

    Slightly under `config.call_timeout`, so that our provider_timeout answers before the
    executor's own timer kills the worker process."""

    def __init__(self, config: ProviderConfig) -> None:
        self.total = max(0.1, 0.9 * config.call_timeout)
        self.deadline = time.monotonic() + self.total

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def _call(budget: _Budget, what: str, key: str, function: Callable[..., _T], *args: Any) -> _T:
    """Runs `function(*args)` in a daemon thread; gives up when the budget is spent."""
    remaining = budget.remaining()
    if remaining <= 0:
        raise _timeout(budget, what)
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = function(*args)
        except BaseException as error:  # handed to the caller's thread
            box["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name=f"ionq-{what}", daemon=True).start()
    if not done.wait(remaining):
        # The thread is abandoned; it ends when its own socket timeout fires.
        raise _timeout(budget, what)
    if "error" in box:
        raise _provider_error(box["error"], key, what) from None
    value: _T = box["value"]
    return value


def _timeout(budget: _Budget, what: str) -> ProviderError:
    return ProviderError(
        "provider_timeout",
        f"IonQ did not answer ({what}) within {budget.total:.3g} s",
        retryable=True,
    )


def _sdk() -> None:
    """Silences qiskit-ionq's per-backend nagging (an idempotent filter; set on every call
    because test runners and `catch_warnings` reset the filters)."""
    from qiskit_ionq.exceptions import IonQTranspileLevelWarning

    # qiskit-ionq warns on every backend it builds unless the user's Qiskit config sets
    # optimization level 0/1; we transpile ourselves (level 1 by default).
    warnings.filterwarnings("ignore", category=IonQTranspileLevelWarning)


def _once(method: Callable[..., _T]) -> Callable[..., _T]:
    """The client method without qiskit-ionq's `retry` decorator: exactly one attempt."""
    return getattr(method, "__wrapped__", method)


@contextmanager
def _sizing_url(url: str) -> Iterator[None]:
    """qiskit-ionq sizes backends from `IONQ_API_URL`, not from `url=`: point it at `url` while
    the provider is built, then restore. Held under a lock; a thread abandoned after a timeout
    keeps the lock (and the variables) until its own requests time out, so a later call never
    sees another URL."""
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in URL_VARIABLES}
        os.environ.update(dict.fromkeys(URL_VARIABLES, url))
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _api_key(credentials: dict[str, str]) -> str:
    key = credentials.get("ionq_api_key")
    if not isinstance(key, str) or not key.strip():
        # Never fall through to qiskit-ionq with no key: it would use IONQ_API_KEY from the
        # server's environment or a .env file, i.e. the operator's account.
        raise ProviderError(
            "invalid_credentials",
            "an IonQ API key is required: give options.ionq_api_key",
            field="options.ionq_api_key",
        )
    key = key.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in key):
        # requests would refuse the header and quote the key in its error message.
        raise ProviderError(
            "invalid_credentials",
            "options.ionq_api_key contains whitespace or control characters",
            field="options.ionq_api_key",
        )
    return key


def _backend(key: str, url: str, spec: _Spec, options: _Options) -> IonQBackend:
    _sdk()
    from qiskit_ionq import IonQProvider

    with _sizing_url(url):
        provider: IonQProvider = IonQProvider(key, url=url)
        backend = provider.get_backend(spec.backend)
    if spec.simulator:
        # The noise block reads the seed from the backend's options, not from the job's.
        backend.set_options(noise_model=options.noise_model, sampler_seed=options.sampler_seed)
    return backend


def _client(key: str, url: str) -> IonQClient:
    _sdk()
    from qiskit_ionq.ionq_client import IonQClient

    # The client IonQBackend builds (same class, token and URL); no backend sizing needed.
    return IonQClient(key, url)


def _get_json(
    client: IonQClient, parts: Sequence[str], params: dict[str, Any], timeout: float
) -> Any:
    from qiskit_ionq.exceptions import IonQAPIError

    response = client.get_with_retry(
        client.make_path(*parts),
        params=params,
        headers=client.api_headers,
        timeout=max(0.5, timeout),
    )
    IonQAPIError.raise_for_status(response)
    return response.json()


# --- submit ----------------------------------------------------------------------------------


def run_task(
    task: ExecutionTask, device: Device, credentials: dict[str, str], config: ProviderConfig
) -> ExecutionOutcome:
    raise ProviderError(
        "unsupported_option",
        f"{device.id} runs at IonQ: it is submitted and polled (submit_task / poll_task)",
    )


def submit_task(
    task: ExecutionTask, device: Device, credentials: dict[str, str], config: ProviderConfig
) -> ProviderJob:
    budget = _Budget(config)  # the executor's clock is already running
    spec = _spec(device)
    key = _api_key(credentials)
    options = _parse_options(device, task.options)
    mitigation = _mitigation(device, options, task.use_mitigation, task.shots)
    circuits = _prepare(task, device, options)  # everything local fails before any call
    backend = _call(budget, "backend", key, _backend, key, config.ionq_api_url, spec, options)
    earlier = _call(
        budget, "job lookup", key, _find_submitted, backend.client, spec, task.client_token, budget
    )
    ids = []
    reused = len(earlier)
    for c, p, g in _executions(circuits):
        tag = f"{c}.{p}.{g}"
        if tag in earlier:
            ids.append(earlier[tag])
            continue
        pending = _in_flight(config.ionq_api_url, task.client_token, tag, budget)
        if pending is not None:
            ids.append(pending)
            reused += 1
            continue
        job_id = _call(
            budget,
            "submit",
            key,
            _submit_one,
            backend,
            circuits[c].bound(p, g),
            _run_arguments(task, spec, options, mitigation, tag),
            (config.ionq_api_url, task.client_token, tag),
        )
        ids.append(job_id)
    return ProviderJob(
        provider=PROVIDER,
        ids=tuple(ids),
        data={
            "device": device.id,
            "ionq_backend": spec.backend,
            "shots": task.shots,
            "mitigation": mitigation,
            "noise_model": options.noise_model,
            "sampler_seed": options.sampler_seed,
            "optimization_level": options.optimization_level,
            "client_token": task.client_token,
            "reused_jobs": reused,
            "layout": [[len(c.values), len(c.measured)] for c in circuits],
            "clbits": [c.clbits for c in circuits],
            "shapes": [c.shapes[0] for c in circuits],
        },
    )


def _run_arguments(
    task: ExecutionTask, spec: _Spec, options: _Options, mitigation: str, tag: str
) -> dict[str, Any]:
    from qiskit_ionq.constants import ErrorMitigation

    arguments: dict[str, Any] = {
        "shots": task.shots,
        "name": f"qorch {task.client_token} {tag}"[:200],
        "job_settings": None,
        "dry_run": False,
        "memory": False,
        "extra_query_params": {},
        "extra_metadata": {
            "qorch_token": task.client_token,
            "qorch_execution": tag,
        },
    }
    if spec.simulator:
        arguments["noise_model"] = options.noise_model
        arguments["sampler_seed"] = options.sampler_seed
    else:
        # Sent either way: IonQ turns debiasing on by default for larger jobs, and it changes
        # the price (a higher per-job minimum).
        arguments["error_mitigation"] = (
            ErrorMitigation.DEBIASING if mitigation == "debiasing" else ErrorMitigation.NO_DEBIASING
        )
    return arguments


@dataclass
class _Pending:
    """A POST /jobs of this process, possibly still waiting for its answer in an abandoned
    thread: a retry in the same process waits for it rather than submitting again."""

    done: threading.Event
    job_id: str | None = None


_PENDING: dict[tuple[str, str, str], _Pending] = {}
_PENDING_LOCK = threading.Lock()
_PENDING_KEEP = 10_000


def _in_flight(url: str, token: str, tag: str, budget: _Budget) -> str | None:
    """The IonQ job id of an earlier submit of this execution in this process, if it got one."""
    with _PENDING_LOCK:
        pending = _PENDING.get((url, token, tag)) if token else None
    if pending is None:
        return None
    if not pending.done.wait(max(0.0, budget.remaining())):
        raise _timeout(budget, "an earlier submit of this job")
    return pending.job_id


def _submit_one(
    backend: IonQBackend,
    circuit: QuantumCircuit,
    arguments: dict[str, Any],
    pending_key: tuple[str, str, str],
) -> str:
    from qiskit_ionq.ionq_client import IonQClient
    from qiskit_ionq.ionq_job import IonQJob

    pending = _Pending(threading.Event())
    if pending_key[1]:
        with _PENDING_LOCK:
            while len(_PENDING) >= _PENDING_KEEP:  # oldest first; dicts keep insertion order
                del _PENDING[next(iter(_PENDING))]
            _PENDING[pending_key] = pending
    try:
        # What backend.run() does, minus the client's retry loop around the POST.
        job = IonQJob(
            backend=backend,
            job_id=None,
            client=backend.client,
            circuit=circuit,
            passed_args=arguments,
        )
        response = _once(IonQClient.submit_job)(backend.client, job)
        pending.job_id = str(response["id"])
        return pending.job_id
    finally:
        pending.done.set()


def _find_submitted(client: IonQClient, spec: _Spec, token: str, budget: _Budget) -> dict[str, str]:
    """Jobs of this task already at IonQ (a retry after a lost answer): execution tag -> id."""
    found: dict[str, str] = {}
    if not token:
        return found
    params: dict[str, Any] = {"target": spec.backend, "limit": LOOKUP_PAGE_SIZE}
    for _ in range(LOOKUP_PAGES):
        page = _get_json(client, ["jobs"], params, budget.remaining())
        for job in page.get("jobs") or []:
            metadata = job.get("metadata") or {}
            if metadata.get("qorch_token") == token and "qorch_execution" in metadata:
                found.setdefault(str(metadata["qorch_execution"]), str(job["id"]))
        cursor = page.get("next")
        if not cursor:
            break
        params = {**params, "next": cursor}
    return found


# --- poll ------------------------------------------------------------------------------------


def poll_task(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    credentials: dict[str, str],
    config: ProviderConfig,
) -> ExecutionOutcome | None:
    spec = _spec(device)
    key = _api_key(credentials)
    budget = _Budget(config)
    client = _client(key, config.ionq_api_url)
    expected = sum(sets * groups for sets, groups in job.data.get("layout") or [])
    if len(job.ids) != expected or len(job.data.get("layout") or []) != len(task.circuits):
        raise ProviderError(
            "provider_failed",
            f"the recorded IonQ jobs ({len(job.ids)}) do not match the task ({expected})",
        )
    # The last job is submitted last and usually finishes last: while it runs, one GET suffices.
    answers: dict[str, dict[str, Any]] = {}
    for job_id in reversed(job.ids):
        answer = _call(budget, "job status", key, _retrieve, client, job_id)
        status = answer.get("status")
        if status == "failed":
            failure = answer.get("failure") or {}
            code = failure.get("code") or "failed"
            detail = failure.get("message") or failure.get("error") or "no details"
            raise ProviderError(
                "provider_failed",
                _scrub(f"IonQ job {job_id} failed: {code}: {detail}", key),
                provider_code=str(code),
            )
        if status == "canceled":
            raise ProviderError(
                "provider_cancelled", f"IonQ job {job_id} was cancelled", provider_code="canceled"
            )
        if status != "completed":
            return None
        answers[job_id] = answer
    probabilities = [
        _call(budget, "results", key, _results, client, job_id, answers[job_id])
        for job_id in job.ids
    ]
    return _outcome(task, spec, job, answers, probabilities)


def _retrieve(client: IonQClient, job_id: str) -> dict[str, Any]:
    from qiskit_ionq.ionq_client import IonQClient

    answer: dict[str, Any] = _once(IonQClient.retrieve_job)(client, job_id)
    return answer


def _results(client: IonQClient, job_id: str, answer: dict[str, Any]) -> dict[str, float]:
    from qiskit_ionq.ionq_client import IonQClient

    results = answer.get("results") or {}
    url = (results.get("probabilities") or {}).get("url")
    url = url or f"/v0.4/jobs/{job_id}/results/probabilities"
    data = _once(IonQClient.get_results)(client, url)
    return {str(k): float(v) for k, v in dict(data).items()}


def _outcome(
    task: ExecutionTask,
    spec: _Spec,
    job: ProviderJob,
    answers: dict[str, dict[str, Any]],
    probabilities: list[dict[str, float]],
) -> ExecutionOutcome:
    from qorch.adapters.providers.pipeline.observables import (
        expectation_values,
        measurement_circuits,
    )

    data = job.data
    shots = int(data.get("shots") or task.shots)
    sampled = spec.simulator and data.get("noise_model", "ideal") == "ideal"
    seed = data.get("sampler_seed")
    layout: list[list[int]] = data["layout"]
    clbits: list[list[list[int | None]]] = data["clbits"]
    outcomes = []
    position = 0
    for c, (sets, groups) in enumerate(layout):
        counts_by_set: list[list[dict[str, int]]] = []
        distributions: list[dict[str, float]] = []
        for _p in range(sets):
            per_group = []
            for g in range(groups):
                job_id = job.ids[position]
                distribution = _distribution(probabilities[position], clbits[c][g])
                rng_seed = [seed, position] if seed is not None else [_seed_from(job_id)]
                counts = (
                    _sample(distribution, shots, rng_seed)
                    if sampled
                    else _round(distribution, shots)
                )
                per_group.append(counts)
                if groups == 1:
                    distributions.append(distribution)
                position += 1
            counts_by_set.append(per_group)
        outcome = CircuitOutcome(transpiled=dict(data["shapes"][c]))
        circuit_task = task.circuits[c]
        if circuit_task.observables:
            plan = measurement_circuits(
                load_circuit(circuit_task.source, f"circuits[{c}]"), circuit_task.observables
            )
            rows = [expectation_values(plan, per_group) for per_group in counts_by_set]
            count = len(circuit_task.observables)
            outcome.expectation_values = [[row[0][o] for row in rows] for o in range(count)]
            outcome.standard_errors = [[row[1][o] for row in rows] for o in range(count)]
        else:
            outcome.counts = [per_group[0] for per_group in counts_by_set]
            outcome.distributions = distributions
        outcomes.append(outcome)
    durations = [a.get("execution_duration_ms") for a in answers.values()]
    metadata: dict[str, Any] = {
        "device": data.get("device"),
        "ionq_backend": spec.backend,
        "shots": shots,
        "mitigation": data.get("mitigation", "none"),
        "optimization_level": data.get("optimization_level"),
        "provider_job_ids": list(job.ids),
        "counts_from": "sampled from exact probabilities (ideal simulator)"
        if sampled
        else "probabilities x shots, rounded (largest remainders)",
        "execution_seconds": sum(d for d in durations if isinstance(d, int | float)) / 1000,
    }
    if spec.simulator:
        metadata["noise_model"] = data.get("noise_model")
        if seed is not None:
            metadata["sampler_seed"] = seed
    return ExecutionOutcome(circuits=outcomes, metadata=metadata)


def _distribution(probabilities: dict[str, float], qubit_of: list[int | None]) -> dict[str, float]:
    """IonQ's integer outcomes (qubit 0 least significant) -> classical bitstrings, Qiskit order
    (clbit 0 rightmost); bits never measured read 0."""
    merged: dict[str, float] = {}
    for outcome, probability in probabilities.items():
        value = int(outcome)
        bits = "".join(
            "1" if qubit is not None and (value >> qubit) & 1 else "0"
            for qubit in reversed(qubit_of)
        )
        merged[bits] = merged.get(bits, 0.0) + probability
    total = sum(merged.values())
    if total <= 0:
        raise ProviderError("provider_failed", "IonQ returned an empty probability distribution")
    return {bits: p / total for bits, p in sorted(merged.items()) if p > 0}


def _round(distribution: dict[str, float], shots: int) -> dict[str, int]:
    """Largest-remainder rounding of p x shots: integers summing to exactly `shots`."""
    keys = list(distribution)
    exact = np.array([distribution[k] * shots for k in keys])
    counts = np.floor(exact).astype(int)
    short = shots - int(counts.sum())
    if short > 0:
        for index in np.argsort(-(exact - counts), kind="stable")[:short]:
            counts[index] += 1
    return {k: int(n) for k, n in zip(keys, counts, strict=True) if n}


def _sample(distribution: dict[str, float], shots: int, seed: list[int]) -> dict[str, int]:
    keys = list(distribution)
    weights = np.array([distribution[k] for k in keys])
    drawn = np.random.default_rng(seed).multinomial(shots, weights / weights.sum())
    return {k: int(n) for k, n in zip(keys, drawn, strict=True) if n}


def _seed_from(job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big")


# --- cancel and status -----------------------------------------------------------------------


def cancel_task(
    device: Device, job: ProviderJob, credentials: dict[str, str], config: ProviderConfig
) -> None:
    """Cancels every job of the task (IonQ ignores a cancel of a finished job)."""
    _spec(device)
    key = _api_key(credentials)
    budget = _Budget(config)
    client = _client(key, config.ionq_api_url)
    first_error: ProviderError | None = None
    for job_id in job.ids:
        try:
            _call(budget, "cancel", key, _cancel, client, job_id)
        except ProviderError as error:
            if error.code == "provider_timeout":
                raise
            first_error = first_error or error
    if first_error is not None:
        raise first_error


def _cancel(client: IonQClient, job_id: str) -> None:
    from qiskit_ionq.ionq_client import IonQClient

    _once(IonQClient.cancel_job)(client, job_id)


def live_status(
    devices: list[Device], credentials: dict[str, str], config: ProviderConfig
) -> dict[str, dict[str, Any]]:
    """GET /backends: status and average queue time per device (IonQ gives no queue length)."""
    key = _api_key(credentials)
    budget = _Budget(config)
    client = _client(key, config.ionq_api_url)
    answer = _call(
        budget, "backends", key, lambda: _get_json(client, ["backends"], {}, budget.remaining())
    )
    by_name = {b.get("backend"): b for b in answer if isinstance(b, dict)}
    statuses: dict[str, dict[str, Any]] = {}
    for device in devices:
        if device.id not in _DEVICES:
            continue
        backend = by_name.get(_DEVICES[device.id].backend)
        if backend is None:
            statuses[device.id] = {"status": "unknown", "queue_length": None}
            continue
        queue_ms = backend.get("average_queue_time")
        statuses[device.id] = {
            "status": _status(backend),
            "queue_length": None,
            "average_queue_seconds": queue_ms / 1000 if isinstance(queue_ms, int | float) else None,
            "last_updated": backend.get("last_updated"),
        }
    return statuses


def _status(backend: dict[str, Any]) -> str:
    status = backend.get("status")
    if status == "available":
        return "degraded" if backend.get("degraded") else "online"
    if status == "unavailable":
        return "offline"
    return str(status or "unknown")


# --- errors ----------------------------------------------------------------------------------


def _provider_error(error: BaseException, key: str, what: str) -> ProviderError:
    """SDK / HTTP failures as ProviderError; the key never appears in a message."""
    import requests
    from qiskit_ionq import exceptions

    if isinstance(error, ProviderError):
        return error
    if isinstance(error, exceptions.IonQRetriableError):
        cause = getattr(error, "_cause", None)
        if isinstance(cause, BaseException):
            return _provider_error(cause, key, what)
    if isinstance(error, exceptions.IonQAPIError):
        return _http_error(error, key, what)
    if isinstance(error, requests.Timeout):
        return ProviderError(
            "provider_timeout", f"IonQ did not answer in time ({what})", retryable=True
        )
    if isinstance(error, requests.RequestException):
        return ProviderError(
            "provider_unavailable",
            _scrub(f"IonQ could not be reached ({what}): {type(error).__name__}", key),
            retryable=True,
        )
    if isinstance(error, exceptions.IonQCredentialsError):
        return ProviderError("invalid_credentials", "IonQ refused the credentials")
    if isinstance(
        error,
        exceptions.IonQGateError
        | exceptions.IonQMidCircuitMeasurementError
        | exceptions.IonQPauliExponentialError,
    ):
        return ProviderError("invalid_circuit", _scrub(f"{what}: {_message(error)}", key))
    if isinstance(error, ValueError):  # e.g. a proxy's HTML page where JSON was expected
        return ProviderError(
            "provider_unavailable",
            _scrub(f"IonQ answered something unreadable ({what}): {_message(error)}", key),
            retryable=True,
        )
    return ProviderError(
        "provider_failed",
        _scrub(f"IonQ call failed ({what}): {type(error).__name__}: {_message(error)}", key),
    )


def _http_error(error: Any, key: str, what: str) -> ProviderError:
    status = int(error.status_code)
    detail = _scrub(f"{error.error_type}: {error.message}", key)
    text = f"IonQ answered {status} ({what}): {detail}"
    if status in (401, 403):
        return ProviderError(
            "invalid_credentials",
            f"IonQ refused the API key ({status}, {what}): {detail}",
            provider_code=str(status),
            field="options.ionq_api_key",
        )
    if status == 429:
        return ProviderError(
            "rate_limited",
            text,
            retryable=True,
            provider_code="429",
            retry_after=retry_after_seconds((error.headers or {}).get("Retry-After")),
        )
    if status >= 500 or status == 409:
        return ProviderError(
            "provider_unavailable", text, retryable=True, provider_code=str(status)
        )
    return ProviderError("provider_rejected", text, provider_code=str(status))


def _message(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(message)[:500]


def _scrub(text: str, key: str) -> str:
    if key:
        text = text.replace(key, "***")
    return re.sub(r"apiKey\s+\S+", "apiKey ***", text)
