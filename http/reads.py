"""Reads served from the projections, with read-your-writes and long-polling."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from qorch.domain.errors import NotFound
from qorch.http.presenters import present_job
from qorch.projections import jobs
from qorch.service import Service

MAX_WAIT_SECONDS = 300.0


async def await_recorded(service: Service, position: int) -> None:
    await service.projector.wait_for_position(position)


async def read_job(
    service: Service, user_id: UUID, job_id: str, wait: float = 0.0
) -> dict[str, Any]:
    """The job as the client sees it; waits up to `wait` seconds for a final status."""
    deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
    db = service.views.connection()
    while True:
        doc = jobs.get_job(db, str(user_id), job_id)
        if doc is None:
            raise NotFound("job", job_id)
        remaining = deadline - time.monotonic()
        if doc["status"] in jobs.FINAL or remaining <= 0:
            break
        await service.projector.wait_for_change(remaining)
    results = jobs.get_results(db, job_id) if doc["status"] in jobs.FINAL else None
    return present_job(doc, results)
