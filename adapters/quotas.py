"""What one user may take of a qorch: per-job time and memory limits, a fair share of the local
worker slots, how many jobs they may have open and submit per second, and how much they may
store.

Built by the composition root (`bootstrap.quotas_from`) from the QORCH_* settings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quotas:
    time_limit: float = 600.0
    """Seconds a job may run in a local worker process (QORCH_JOB_TIME_LIMIT; 0: no limit).
    Jobs waiting at a remote provider are not limited by it (their calls have their own
    timeout, QORCH_PROVIDER_CALL_TIMEOUT)."""
    memory_limit_mb: int = 4096
    """MiB a job may allocate in its worker process beyond the idle worker's own footprint
    (QORCH_JOB_MEMORY_LIMIT_MB; 0: no limit). Enforced with RLIMIT_DATA."""
    time_limits: tuple[tuple[str, float], ...] = ()
    """Per-device overrides: QORCH_JOB_TIME_LIMITS="aer_simulator_statevector=1200,fake_kolkata=60"
    (seconds)."""
    memory_limits_mb: tuple[tuple[str, int], ...] = ()
    """Per-device overrides: QORCH_JOB_MEMORY_LIMITS_MB="aer_simulator_density_matrix=8192"."""
    max_running_per_user: int = 0
    """Local worker slots one user's jobs may hold in one executor (QORCH_MAX_RUNNING_PER_USER);
    0: one less than the executor's concurrency (at least 1), so another user always finds one."""
    max_queued_per_user: int = 200
    """Open (not final) jobs one user may have; more submits answer 429
    (QORCH_MAX_QUEUED_PER_USER; 0: no cap)."""
    submit_rate: float = 5.0
    """Submits per second one user may sustain, per API process (QORCH_SUBMIT_RATE; 0: none)."""
    submit_burst: int = 50
    """Submits one user may make at once before the rate applies (QORCH_SUBMIT_BURST)."""
    max_stored_mb: int = 2048
    """MiB of circuits, job inputs and results one user may have stored; past it submits and
    circuit uploads answer 429 (QORCH_MAX_STORED_MB_PER_USER; 0: no quota)."""

    def time_limit_for(self, device_id: str) -> float:
        return dict(self.time_limits).get(device_id, self.time_limit)

    def memory_limit_mb_for(self, device_id: str) -> int:
        return dict(self.memory_limits_mb).get(device_id, self.memory_limit_mb)

    def running_cap(self, concurrency: int) -> int:
        if self.max_running_per_user > 0:
            return self.max_running_per_user
        return max(1, concurrency - 1)

    def device_limits(self, device_id: str, remote: bool) -> dict[str, object]:
        """As the device listing shows them (remote jobs run at the provider: no local limit)."""
        if remote:
            return {"time_seconds": None, "memory_mb": None}
        time_limit, memory = self.time_limit_for(device_id), self.memory_limit_mb_for(device_id)
        return {"time_seconds": time_limit or None, "memory_mb": memory or None}
