"""Configuration: QORCH_* environment variables, overridden by command-line flags.

Every field is read from the variable of its name (`port` from QORCH_PORT), and a validation
error names that variable. This module imports nothing from qorch: the composition root
(bootstrap.py) turns these values into the objects the domain and the adapters take (`Limits`,
`Quotas`, `SandboxConfig`, `ProviderConfig`). A field of those groups left unset (None) takes
the default of the object it configures, so each default is written once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasGenerator, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, NoDecode, SettingsConfigDict

PREFIX = "QORCH_"

# Settings field -> field of the object it configures (bootstrap.py builds the objects).
LIMITS = {
    name: name
    for name in (
        "max_circuits",
        "max_shots",
        "max_parameter_sets",
        "max_observables",
        "statevector_max_qubits",
        "machine_memory_mb",
        "max_result_values",
        "max_qubits",
        "max_clbits",
        "max_gates",
        "max_pauli_terms",
        "max_job_pauli_terms",
    )
}
TEXT_LIMITS = {
    "max_name_length": "max_name",
    "max_description_length": "max_description",
    "max_tags": "max_tags",
    "max_tag_length": "max_tag",
    "max_key_length": "max_key",
    "max_options_bytes": "max_options",
}
QUOTAS = {
    "job_time_limit": "time_limit",
    "job_memory_limit_mb": "memory_limit_mb",
    "job_time_limits": "time_limits",
    "job_memory_limits_mb": "memory_limits_mb",
    "max_running_per_user": "max_running_per_user",
    "max_queued_per_user": "max_queued_per_user",
    "submit_rate": "submit_rate",
    "submit_burst": "submit_burst",
    "max_stored_mb_per_user": "max_stored_mb",
}
PROVIDERS = {
    "braket_endpoint_url": "braket_endpoint_url",
    "braket_s3_bucket": "braket_s3_bucket",
    "ionq_api_url": "ionq_api_url",
    "ibm_url": "ibm_url",
    "provider_call_timeout": "call_timeout",
    "provider_poll_interval": "poll_interval",
    "provider_max_retries": "max_retries",
    "max_dense_qubits": "max_dense_qubits",
}
PARSER = {
    "parse_workers": "workers",
    "parse_timeout_seconds": "timeout",
    "parse_memory_mb": "memory_mb",
}

Names = Annotated[tuple[str, ...], NoDecode]
Seconds = Annotated[tuple[tuple[str, float], ...] | None, NoDecode]
Megabytes = Annotated[tuple[tuple[str, int], ...] | None, NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        alias_generator=AliasGenerator(validation_alias=lambda name: PREFIX + name.upper()),
        validate_by_name=True,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path("qorch-data")
    database_url: str = ""
    """Empty: SQLite in data_dir. `postgresql://user:pass@host:port/db` selects PostgreSQL."""
    host: str = "127.0.0.1"
    port: int = 8000
    run_worker: bool = True
    worker_concurrency: int = max(1, min(4, os.cpu_count() or 1))
    batch_size: int = Field(default=32, ge=1, le=256)
    """Small local jobs of one user run together, this many to a worker call (1: each alone)."""
    lease_seconds: float = 30.0
    poll_interval: float = 0.2
    max_dense_qubits: int = 26
    gpu: str = Field(default="auto", pattern="^(auto|off)$")
    """auto: a worker offers the GPU qiskit-aer can use (GPU devices); off: it offers none."""
    secret_key: str = Field(default="", repr=False)
    """Seals provider credentials held for running jobs; empty: a key file in data_dir."""
    providers: Names = ("local", "ibm", "braket", "ionq")
    """Whose devices are listed and run (QORCH_PROVIDERS=local,braket to list fewer)."""
    braket_endpoint_url: str | None = None
    braket_s3_bucket: str | None = None
    ionq_api_url: str = "https://api.ionq.co/v0.4"
    ibm_url: str | None = None
    provider_call_timeout: float = 60.0
    provider_poll_interval: float = 2.0
    provider_max_retries: int = 4
    max_body_bytes: int = 32 * 1024 * 1024
    """Request bodies of the submit and upload routes (runs, circuits, MCP messages)."""
    max_request_bytes: int = 1024 * 1024
    """Request bodies of every other API route."""
    max_form_bytes: int = 64 * 1024
    """Request bodies of the dashboard's forms (sign-in, sign-out, cancel)."""
    draw_max_qubits: int = 64
    draw_max_gates: int = 1000
    """Circuit pages draw circuits up to these sizes; larger ones get a plain notice."""
    draw_timeout: float = 5.0
    log_level: str = "INFO"
    api_key: str = Field(default="", repr=False)
    """The user `qorch mcp` acts as, unless --key or --user is given."""
    sdk_submit_wait: float = 3.0
    """Seconds a haiqu-sdk submit waits for its job to finish before answering."""
    sdk_retry_window: float = 10.0
    """Seconds in which the same haiqu-sdk submit body is a retry, not a new job."""
    webhook_allow_private: bool = False
    """Webhooks may call loopback, private and link-local addresses (receivers on a trusted
    network); cloud metadata addresses stay refused."""
    webhook_retry_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    """A failed delivery is tried again after webhook_retry_seconds, then twice as long each
    time, at most this long apart, for up to 24 h."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """Per delivery attempt (connecting: at most 5 s)."""

    # Limits (domain/requests.py) and TextLimits (domain/fields.py).
    max_circuits: int | None = None
    max_shots: int | None = None
    max_parameter_sets: int | None = None
    max_observables: int | None = None
    statevector_max_qubits: int | None = None
    machine_memory_mb: int | None = Field(default_factory=lambda: machine_memory_mb())
    """MiB of the machine that runs local jobs, against which a dense StatevectorRun is checked
    before it is recorded; default: this machine's memory or its cgroup's limit, if lower (set
    it where workers run on other machines)."""
    max_result_values: int | None = None
    max_qubits: int | None = None
    max_clbits: int | None = None
    max_gates: int | None = None
    max_pauli_terms: int | None = None
    max_job_pauli_terms: int | None = None
    max_name_length: int | None = None
    max_description_length: int | None = None
    max_tags: int | None = None
    max_tag_length: int | None = None
    max_key_length: int | None = None
    max_options_bytes: int | None = None
    # Quotas (adapters/quotas.py): per-job time and memory, fair shares, submit caps.
    job_time_limit: float | None = None
    job_memory_limit_mb: int | None = None
    job_time_limits: Seconds = None
    """Per-device seconds: QORCH_JOB_TIME_LIMITS="aer_simulator=1200,fake_kolkata=60"."""
    job_memory_limits_mb: Megabytes = None
    """Per-device MiB: QORCH_JOB_MEMORY_LIMITS_MB="aer_simulator_density_matrix=8192"."""
    max_running_per_user: int | None = None
    max_queued_per_user: int | None = None
    submit_rate: float | None = None
    submit_burst: int | None = None
    max_stored_mb_per_user: int | None = None
    # SandboxConfig (adapters/circuit_sandbox.py): the parser processes for users' circuits.
    parse_workers: int | None = None
    parse_timeout_seconds: float | None = None
    parse_memory_mb: int | None = None

    @field_validator("providers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("job_time_limits", "job_memory_limits_mb", mode="before")
    @classmethod
    def _device_pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        items = [item for item in value.split(",") if item.strip()]
        pairs = [item.partition("=") for item in items]
        for item, (device, equals, _) in zip(items, pairs, strict=True):
            if not equals or not device.strip():
                raise ValueError(f"expected device=value pairs separated by commas: {item!r}")
        return tuple((device.strip(), number.strip()) for device, _, number in pairs)

    @model_validator(mode="before")
    @classmethod
    def _unpack_objects(cls, values: Any) -> Any:
        """Accepts `limits=Limits(...)`, `quotas=Quotas(...)`, `parser=SandboxConfig(...)` as
        shorthands for their fields (tests configure a whole group at once)."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        for key, group in (("limits", LIMITS), ("quotas", QUOTAS), ("parser", PARSER)):
            given = values.pop(key, None)
            if given is None:
                continue
            values.update(_fields_of(given, group))
            if key == "limits":
                values.update(_fields_of(given.text, TEXT_LIMITS))
        return values

    @property
    def views_path(self) -> Path:
        return self.data_dir / "views.sqlite"

    @property
    def events_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    def given(self, group: Mapping[str, str]) -> dict[str, Any]:
        """The fields of `group` that were set, named as the object they configure names them."""
        found = {field: getattr(self, name) for name, field in group.items()}
        return {field: value for field, value in found.items() if value is not None}

    def with_overrides(self, **overrides: object) -> Settings:
        """These settings with the given values replaced (None: keep; a flag not given)."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return only({**self.model_dump(), **given}, type(self))


def machine_memory_mb(
    cgroup_root: Path = Path("/sys/fs/cgroup"), own_cgroups: Path = Path("/proc/self/cgroup")
) -> int:
    """This machine's memory in MiB, or the limit of this process's cgroup if it is lower
    (a container's memory); 0 when neither can be read."""
    try:
        found = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    except (ValueError, OSError, AttributeError):
        found = []
    files = _cgroup_memory_files(cgroup_root, own_cgroups)
    found += [limit for path in files if (limit := _read_bytes(path)) > 0]
    return min(found, default=0) // 2**20


def _cgroup_memory_files(root: Path, own_cgroups: Path) -> list[Path]:
    """cgroup v2 `memory.max` and v1 `memory.limit_in_bytes` of this process, and those at the
    root of the hierarchy (what a container sees of its own limit)."""
    files = [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    try:
        lines = own_cgroups.read_text().splitlines()
    except OSError:
        return files
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        relative = path.lstrip("/")
        if controllers == "":
            files.append(root / relative / "memory.max")
        elif "memory" in controllers.split(","):
            files.append(root / "memory" / relative / "memory.limit_in_bytes")
    return files


def _read_bytes(path: Path) -> int:
    """A cgroup limit in bytes; 0 when absent or unlimited ("max", or v1's huge number)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() and int(text) < 2**60 else 0


def _fields_of(configured: Any, group: Mapping[str, str]) -> dict[str, Any]:
    return {name: getattr(configured, field) for name, field in group.items()}


def only(values: Mapping[str, Any], kind: type[Settings] = Settings) -> Settings:
    """Settings from these values alone (by field or variable name), not the environment."""
    values = dict(values)
    sources = ((InitSettingsSource(kind, init_kwargs=values),), values)
    return kind(_build_sources=sources)  # type: ignore[call-arg]  # BaseSettings' own argument


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the process environment, or from `environ` alone."""
    if environ is None:
        return Settings()
    found = {name.upper(): value for name, value in environ.items() if value != ""}
    return only({name: value for name, value in found.items() if name.startswith(PREFIX)})
