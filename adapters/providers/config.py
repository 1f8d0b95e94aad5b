"""Where providers are reached and how long a call may take (picklable, passed to workers)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderConfig:
    braket_endpoint_url: str | None = None
    """Overrides the AWS endpoint for Braket and S3 (a loopback fake in tests); None: AWS."""
    braket_s3_bucket: str | None = None
    """Results bucket for Braket tasks; None: `amazon-braket-<region>-<account>` default."""
    braket_s3_prefix: str = "qorch"
    ionq_api_url: str = "https://api.ionq.co/v0.4"
    ibm_url: str | None = None
    """IBM Quantum Platform URL override; None: the SDK's default."""
    call_timeout: float = 60.0
    """Seconds one provider call (submit, poll, cancel, status) may take before it is abandoned."""
    poll_interval: float = 2.0
    """Seconds between polls of a remote job (grows with backoff up to 15x while it waits)."""
    max_retries: int = 4
    """Retries of a retryable provider failure (429, 5xx, timeout) before the job fails."""
    retry_base_delay: float = 0.5
    max_dense_qubits: int = 26
    """Qubits of the local dense-statevector simulators (QORCH_MAX_DENSE_QUBITS)."""
