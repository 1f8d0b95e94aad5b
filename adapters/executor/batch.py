"""Which jobs run together, and commands on many jobs at once: each job's own command, their
saves written in one transaction (one fsync) instead of one each. Every job keeps its own events
and its own optimistic-concurrency check."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread

from qorch.adapters.executor.remote import Record
from qorch.domain.application import Claim, Qorch

SMALL_QUBITS = 16
SMALL_WORK = 2_000_000
"""A job runs with others in one worker call when its widest circuit has at most SMALL_QUBITS
qubits and shots x parameter sets x gates stays under SMALL_WORK: milliseconds of Aer, for
which a worker call of its own costs more than the simulation."""


def is_small(qubits: int, gates: int, control_flow: bool, shots: int, sets: int) -> bool:
    """Whether a local job is small enough to run with others (a loop or branch is never
    counted as small: its gate count does not say how long it runs)."""
    work = max(1, shots) * max(1, sets) * max(1, gates)
    return not control_flow and qubits <= SMALL_QUBITS and work <= SMALL_WORK


async def claim_all(
    app: Qorch, jobs: Sequence[tuple[UUID, bool]], worker_id: str, lease_seconds: float
) -> list[Claim | None | Exception]:
    """Claims each (job, its claimant is dead) for `worker_id`, in one transaction: a Claim,
    None where another worker holds or finished the job, or the error reading it raised."""
    now = time.time()
    return await anyio.to_thread.run_sync(
        app.together,
        [
            partial(app.claim_job, job_id, worker_id, now, dead, lease_seconds)
            for job_id, dead in jobs
        ],
    )


async def record_all(
    app: Qorch, worker_id: str, outcomes: Sequence[tuple[UUID, Record, Any]]
) -> list[bool | Exception]:
    """Records each job's outcome while `worker_id` holds its claim (False where it does not),
    in one transaction."""
    return await anyio.to_thread.run_sync(
        app.together,
        [partial(record, job_id, worker_id, value) for job_id, record, value in outcomes],
    )


async def renew_all(
    app: Qorch, job_ids: Sequence[UUID], worker_id: str, lease_seconds: float
) -> list[bool | Exception]:
    now = time.time()
    return await anyio.to_thread.run_sync(
        app.together,
        [partial(app.renew_lease, job_id, worker_id, now, lease_seconds) for job_id in job_ids],
    )


async def release_all(
    app: Qorch, job_ids: Sequence[UUID], worker_id: str
) -> list[bool | Exception]:
    return await anyio.to_thread.run_sync(
        app.together, [partial(app.release_job, job_id, worker_id) for job_id in job_ids]
    )
