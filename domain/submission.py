"""What a job was submitted as, beyond the run itself: the haiqu-sdk job type and program, and
the idempotency key that makes a repeated submit answer the first job instead of a new one.

Both are recorded in the same save as their job, so a job never exists without them.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class SubmitKey(Aggregate):
    """One per (user, idempotency key): its id is derived from both, so a second job for the same
    key loses the optimistic-concurrency race instead of being recorded."""

    @staticmethod
    def create_id(user_id: UUID, key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"qorch:submit-key:{user_id}:{key}")

    @event("Used")
    def __init__(
        self, user_id: UUID, key: str, job_id: UUID, fingerprint: str, used_at: float
    ) -> None:
        self.user_id = user_id
        self.key = key
        self.job_id = job_id
        self.fingerprint = fingerprint
        self.used_at = used_at

    @event("Reused")
    def reuse(self, job_id: UUID, fingerprint: str, used_at: float) -> None:
        """An implicit key (a retry window) may be used again for a new job once it expired."""
        self.job_id = job_id
        self.fingerprint = fingerprint
        self.used_at = used_at


class SdkJob(Aggregate):
    """How the haiqu-sdk sees a job: its job type ("Hybrid" or "Run"), program and bases."""

    @staticmethod
    def create_id(job_id: UUID) -> UUID:
        return uuid5(job_id, "haiqu-sdk")

    @event("Recorded")
    def __init__(
        self,
        job_id: UUID,
        job_type: str,
        program: dict[str, Any] | None,
        readout_bases: list[str] | None,
    ) -> None:
        self.job_id = job_id
        self.job_type = job_type
        self.program = program
        self.readout_bases = readout_bases
