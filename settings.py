"""Configuration, read from the environment (QORCH_*) and overridden by command-line flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from qorch.adapters.circuit_sandbox import SandboxConfig
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.quotas import Quotas, quotas_from_env
from qorch.domain.fields import TextLimits
from qorch.domain.requests import Limits


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("qorch-data")
    database_url: str = ""
    """Empty: SQLite in data_dir. `postgresql://user:pass@host:port/db` selects PostgreSQL."""
    host: str = "127.0.0.1"
    port: int = 8000
    run_worker: bool = True
    worker_concurrency: int = max(1, min(4, os.cpu_count() or 1))
    lease_seconds: float = 30.0
    poll_interval: float = 0.2
    max_dense_qubits: int = 26
    limits: Limits = field(default_factory=Limits)
    secret_key: str = ""
    """Seals provider credentials held for running jobs; empty: a key file in data_dir."""
    providers: tuple[str, ...] = ("local", "ibm", "braket", "ionq")
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
    quotas: Quotas = field(default_factory=Quotas)
    """Per-job time and memory limits, fair shares and submit caps (adapters/quotas.py)."""
    parser: SandboxConfig = field(default_factory=SandboxConfig)
    """Parser processes for circuits from users: count, time and memory per parse."""

    @property
    def views_path(self) -> Path:
        return self.data_dir / "views.sqlite"

    @property
    def events_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    def with_overrides(self, **overrides: object) -> Settings:
        given = {key: value for key, value in overrides.items() if value is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(str(given["data_dir"]))
        return replace(self, **given)  # type: ignore[arg-type]


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    defaults = Settings()
    limits = Limits(
        max_circuits=int(env.get("QORCH_MAX_CIRCUITS", defaults.limits.max_circuits)),
        max_shots=int(env.get("QORCH_MAX_SHOTS", defaults.limits.max_shots)),
        max_parameter_sets=int(
            env.get("QORCH_MAX_PARAMETER_SETS", defaults.limits.max_parameter_sets)
        ),
        max_observables=int(env.get("QORCH_MAX_OBSERVABLES", defaults.limits.max_observables)),
        statevector_max_qubits=int(
            env.get("QORCH_STATEVECTOR_MAX_QUBITS", defaults.limits.statevector_max_qubits)
        ),
        max_result_values=int(
            env.get("QORCH_MAX_RESULT_VALUES", defaults.limits.max_result_values)
        ),
        text=text_limits_from_env(env),
        max_qubits=int(env.get("QORCH_MAX_QUBITS", defaults.limits.max_qubits)),
        max_clbits=int(env.get("QORCH_MAX_CLBITS", defaults.limits.max_clbits)),
        max_gates=int(env.get("QORCH_MAX_GATES", defaults.limits.max_gates)),
        max_pauli_terms=int(env.get("QORCH_MAX_PAULI_TERMS", defaults.limits.max_pauli_terms)),
        max_job_pauli_terms=int(
            env.get("QORCH_MAX_JOB_PAULI_TERMS", defaults.limits.max_job_pauli_terms)
        ),
    )
    return Settings(
        data_dir=Path(env.get("QORCH_DATA_DIR", str(defaults.data_dir))),
        database_url=env.get("QORCH_DATABASE_URL", ""),
        host=env.get("QORCH_HOST", defaults.host),
        port=int(env.get("QORCH_PORT", defaults.port)),
        worker_concurrency=int(env.get("QORCH_WORKER_CONCURRENCY", defaults.worker_concurrency)),
        lease_seconds=float(env.get("QORCH_LEASE_SECONDS", defaults.lease_seconds)),
        poll_interval=float(env.get("QORCH_POLL_INTERVAL", defaults.poll_interval)),
        max_dense_qubits=int(env.get("QORCH_MAX_DENSE_QUBITS", defaults.max_dense_qubits)),
        limits=limits,
        secret_key=env.get("QORCH_SECRET_KEY", ""),
        providers=tuple(
            name.strip()
            for name in env.get("QORCH_PROVIDERS", ",".join(defaults.providers)).split(",")
            if name.strip()
        ),
        braket_endpoint_url=env.get("QORCH_BRAKET_ENDPOINT_URL") or None,
        braket_s3_bucket=env.get("QORCH_BRAKET_S3_BUCKET") or None,
        ionq_api_url=env.get("QORCH_IONQ_API_URL", defaults.ionq_api_url),
        ibm_url=env.get("QORCH_IBM_URL") or None,
        provider_call_timeout=float(
            env.get("QORCH_PROVIDER_CALL_TIMEOUT", defaults.provider_call_timeout)
        ),
        provider_poll_interval=float(
            env.get("QORCH_PROVIDER_POLL_INTERVAL", defaults.provider_poll_interval)
        ),
        provider_max_retries=int(
            env.get("QORCH_PROVIDER_MAX_RETRIES", defaults.provider_max_retries)
        ),
        max_body_bytes=int(env.get("QORCH_MAX_BODY_BYTES", defaults.max_body_bytes)),
        max_request_bytes=int(env.get("QORCH_MAX_REQUEST_BYTES", defaults.max_request_bytes)),
        max_form_bytes=int(env.get("QORCH_MAX_FORM_BYTES", defaults.max_form_bytes)),
        draw_max_qubits=int(env.get("QORCH_DRAW_MAX_QUBITS", defaults.draw_max_qubits)),
        draw_max_gates=int(env.get("QORCH_DRAW_MAX_GATES", defaults.draw_max_gates)),
        draw_timeout=float(env.get("QORCH_DRAW_TIMEOUT", defaults.draw_timeout)),
        quotas=quotas_from_env(env),
        parser=SandboxConfig(
            workers=int(env.get("QORCH_PARSE_WORKERS", defaults.parser.workers)),
            timeout=float(env.get("QORCH_PARSE_TIMEOUT_SECONDS", defaults.parser.timeout)),
            memory_mb=int(env.get("QORCH_PARSE_MEMORY_MB", defaults.parser.memory_mb)),
        ),
    )


def text_limits_from_env(env: Mapping[str, str]) -> TextLimits:
    defaults = TextLimits()
    return TextLimits(
        max_name=int(env.get("QORCH_MAX_NAME_LENGTH", defaults.max_name)),
        max_description=int(env.get("QORCH_MAX_DESCRIPTION_LENGTH", defaults.max_description)),
        max_tags=int(env.get("QORCH_MAX_TAGS", defaults.max_tags)),
        max_tag=int(env.get("QORCH_MAX_TAG_LENGTH", defaults.max_tag)),
        max_key=int(env.get("QORCH_MAX_KEY_LENGTH", defaults.max_key)),
        max_options=int(env.get("QORCH_MAX_OPTIONS_BYTES", defaults.max_options)),
    )


def provider_config(settings: Settings) -> ProviderConfig:
    return ProviderConfig(
        braket_endpoint_url=settings.braket_endpoint_url,
        braket_s3_bucket=settings.braket_s3_bucket,
        ionq_api_url=settings.ionq_api_url,
        ibm_url=settings.ibm_url,
        call_timeout=settings.provider_call_timeout,
        poll_interval=settings.provider_poll_interval,
        max_retries=settings.provider_max_retries,
        max_dense_qubits=settings.max_dense_qubits,
    )
