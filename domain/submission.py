"""What a job was submitted as, beyond the run itself: the haiqu-sdk job type and program, and
the idempotency key that makes a repeated submit answer the first job instead of a new one.

Both are recorded in the same save as their job, so a job never exists without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from qorch.domain.fields import from_opaque_json, opaque_json


@dataclass(eq=False, repr=False)  # what eventsourcing already made it, said for type checkers
class SubmitKey(Aggregate, created_event_name="Used"):
    """One per (user, idempotency key): its id is derived from both, so a second job for the same
    key loses the optimistic-concurrency race instead of being recorded."""

    @staticmethod
    def create_id(user_id: UUID, key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"qorch:submit-key:{user_id}:{key}")

    user_id: UUID
    key: str
    job_id: UUID
    fingerprint: str
    used_at: float

    @event("Reused")
    def reuse(self, job_id: UUID, fingerprint: str, used_at: float) -> None:
        """An implicit key (a retry window) may be used again for a new job once it expired."""
        self.job_id = job_id
        self.fingerprint = fingerprint
        self.used_at = used_at


@dataclass(frozen=True)
class SdkView:
    """How a haiqu-sdk client submitted a job: recorded beside the job, in the same save."""

    job_type: str
    program_json: str
    """The program as opaque JSON, credentials removed (see `checked_json`)."""
    readout_bases: list[str] | None


class SdkJob(Aggregate):
    """How the haiqu-sdk sees a job: its job type ("Hybrid" or "Run"), program and bases."""

    @staticmethod
    def create_id(job_id: UUID) -> UUID:
        return uuid5(job_id, "haiqu-sdk")

    class Recorded(Aggregate.Created):
        """Version 2 records the free-form program as one opaque JSON text (`program_json`)."""

        class_version = 2

        job_id: UUID
        job_type: str
        program_json: str
        readout_bases: list[str] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["program_json"] = opaque_json(state.pop("program"))

    @event(Recorded)
    def __init__(
        self,
        job_id: UUID,
        job_type: str,
        program_json: str,
        readout_bases: list[str] | None,
    ) -> None:
        self.job_id = job_id
        self.job_type = job_type
        self.program_json = program_json
        self.readout_bases = readout_bases

    @classmethod
    def of(cls, job_id: UUID, view: SdkView) -> SdkJob:
        return cls(
            job_id=job_id,
            job_type=view.job_type,
            program_json=view.program_json,
            readout_bases=view.readout_bases,
        )

    @property
    def program(self) -> dict[str, Any] | None:
        program: dict[str, Any] | None = from_opaque_json(self.program_json)
        return program
