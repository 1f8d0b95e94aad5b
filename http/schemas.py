"""Wire models (pydantic): one definition per shape, shared by every entrypoint."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

MAX_OFFSET = 2**62
"""Offsets and log positions beyond this are refused: the stores hold 64-bit integers."""
MAX_PAGE = 500
Q = TypeVar("Q", bound=BaseModel)


class RunCircuitsRequest(BaseModel):
    """Run circuits on a QPU or simulator. Exactly one of circuit_ids / circuits_qasm."""

    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(description="The experiment the job (and new circuits) belong to.")
    circuit_ids: list[str] | None = Field(None, description="Ids of stored circuits to run.")
    circuits_qasm: list[str] | None = Field(
        None, description="OpenQASM 2.0 or 3.0 texts; stored in the experiment, then run."
    )
    device_id: str = Field("", description="From list_qpus_and_simulators; empty: aer_simulator.")
    shots: int = Field(1024, ge=1, strict=True)
    parameters: list[Any] | None = Field(
        None,
        description="[circuit][parameter_set][value] (or [parameter_set][value] for one "
        "circuit); values bind in circuit.parameters order, i.e. sorted by name.",
    )
    observables: list[Any] | None = Field(
        None,
        description="[circuit][observable], each observable [pauli_strings, coefficients]; "
        "Qiskit label order: the rightmost character acts on qubit 0.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Backend options (seed_simulator, optimization_level, ...) and provider "
        "credentials; credentials are never recorded.",
    )
    use_mitigation: bool = Field(False, strict=True)
    name: str = ""
    description: str = ""
    dry_run: bool = Field(False, strict=True, description="Stop before execution; estimate cost.")
    run_type: Literal["Run", "StatevectorRun"] = "Run"
    callback_url: str | None = Field(
        None,
        max_length=2048,
        description="An http(s) URL that receives this job's status changes (Queued, Running, "
        "Done, ...), signed the Standard Webhooks way with your callback secret (POST "
        "/webhooks/callback-secret).",
    )


class JobQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(description="The id answered by run_circuits_on_qpu_or_simulator.")
    wait: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="Seconds to wait for a final status (long-poll).",
    )
    circuit_offset: int = Field(
        0,
        ge=0,
        le=MAX_OFFSET,
        description="Index of the first circuit whose results to return (paging).",
    )
    circuit_limit: int | None = Field(
        None,
        ge=1,
        le=MAX_OFFSET,
        description="Return the results of at most this many circuits; default all.",
    )
    include_inputs: bool = Field(
        False, description="Also return the job's parameters and observables (can be large)."
    )


class JobIdRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(description="The id answered by run_circuits_on_qpu_or_simulator.")


class DeviceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(
        None,
        description="One device, described in full (with its coupling map); omit to list all.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Provider credentials (ibm_quantum_token, aws_access_key_id + "
        "aws_secret_access_key, ionq_api_key): with them, that provider's devices show their live "
        "status and queue length. Never stored.",
    )


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=MAX_PAGE, description="At most this many, newest first.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Skip this many (paging).")


class ExperimentsQuery(Page):
    pass


class JobsQuery(Page):
    experiment_id: str | None = Field(None, description="Only this experiment's jobs.")
    status: Literal["Queued", "Running", "Done", "Error", "Cancelled"] | None = Field(
        None, description="Only jobs with this status."
    )
    device_id: str | None = Field(None, description="Only jobs on this device.")


def with_page_size(model: type[Q], limit: int) -> type[Q]:
    """`model` paging `limit` rows by default: one query model, each surface keeping its own
    documented page size (MCP 20, REST 100)."""
    field = model.model_fields["limit"]
    paged: type[Q] = create_model(  # type: ignore[call-overload]
        model.__name__,
        __base__=model,
        limit=(int, Field(limit, ge=1, le=MAX_PAGE, description=field.description)),
    )
    return paged


class CreateExperimentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="A name for people; need not be unique.")
    description: str = ""
    tags: list[str] = Field(default_factory=list)


class AnalyticsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(description="The experiment to store the circuit in.")
    circuit_qasm: str = Field(description="One OpenQASM 2.0 or 3.0 text.")
    name: str = ""


class CostAmount(BaseModel):
    amount: float
    unit: str


class EstimatedCost(BaseModel):
    native: CostAmount
    converted: CostAmount
    circuits: list[dict[str, Any]] = Field(default_factory=list)
    breakdown: dict[str, Any] = Field(default_factory=dict)


class JobError(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    retryable: bool = False


class JobEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    timestamp: str


class JobInfo(BaseModel):
    uncertainty: Any = None
    counts: Any = None
    probabilities: Any = None
    transpiled: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None


class Job(BaseModel):
    id: str
    user_id: str
    experiment_id: str
    name: str
    description: str
    status: Literal[
        "Submitted", "Initializing", "Queued", "Validating", "Running", "Cancelled", "Done", "Error"
    ]
    job_type: str
    run_type: Literal["Run", "StatevectorRun"]
    device_id: str
    shots: int
    circuit_ids: list[str]
    has_parameters: bool = False
    has_observables: bool = False
    parameters: Any = Field(None, description="Only with include_inputs=true (can be large).")
    observables: Any = Field(None, description="Only with include_inputs=true.")
    options: dict[str, Any]
    credentials_supplied: list[str]
    use_mitigation: bool
    dry_run: bool
    creation_date: str
    run_date: str | None = None
    finish_date: str | None = None
    attempts: int = 0
    error: JobError | None = None
    estimated_qpu_cost: EstimatedCost | None = None
    events: list[JobEvent] = Field(default_factory=list)
    quantum_results: Any = Field(
        None,
        description="Nested circuits → observables → parameter sets; a level exists only when "
        "its input was given. Distributions are probability dicts in Qiskit bit order.",
    )
    counts: Any = Field(None, description="Integer counts, same nesting as quantum_results.")
    errors: Any = Field(
        None,
        description="Only when partial: nested like quantum_results, null where the execution "
        "ran, {code, message[, provider_code]} where it failed (its result there is {} or null).",
    )
    partial: bool = Field(
        False, description="Done with some executions (a circuit with one parameter set) failed."
    )
    failed_executions: int = Field(
        0, description="How many (circuit, parameter set) executions failed."
    )
    estimated_usd: float | None = Field(
        None, description="What the submit reserved from the budget, or a dry run's estimate."
    )
    actual_cost: dict[str, Any] | None = Field(
        None,
        description="What a run on a paid device cost: usd, source (reported|computed), tasks, "
        "shots, seconds.",
    )
    info: JobInfo | None = None


class JobAnswer(BaseModel):
    context: str = Field(description="A short text summary for agents.")
    job: Job


class Device(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    provider: str
    vendor: str
    name: str
    qubits: int
    simulator: bool
    status: str
    description: str = ""
    noisy: bool = False
    supports_statevector: bool = False
    basis_gates: list[str] = Field(default_factory=list)
    coupling_map: list[list[int]] | None = None
    dynamic_circuits: list[str] = Field(
        default_factory=list,
        description="What the device runs beyond gates and final measurements: "
        "mid_circuit_measurement, reset, if_else, for_loop, while_loop, switch_case, "
        "nested_control_flow, measurement_in_control_flow.",
    )


class DeviceList(BaseModel):
    context: str
    devices: list[Device]


class Experiment(BaseModel):
    id: str
    user_id: str
    name: str
    description: str
    tags: list[str]
    creation_date: str
    last_action_date: str
    circuits_count: int
    jobs_count: int


class Circuit(BaseModel):
    id: str
    user_id: str
    experiment_id: str
    hash: str
    name: str
    format: Literal["qasm2", "qasm3"]
    qasm: str
    qubits: int
    parameters: list[str]
    has_measurements: bool
    metrics: dict[str, Any]
    creation_date: str


class CircuitAnswer(BaseModel):
    context: str
    circuit: Circuit


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorAnswer(BaseModel):
    error: ErrorBody
    detail: str
