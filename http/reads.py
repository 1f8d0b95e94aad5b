"""Reads served from the projections, with read-your-writes and long-polling.

Results and parameter sweeps can be large: the final read and its presentation run in a worker
thread, and the long-poll loop reads only the light job document, so the event loop (and every
other client) never waits on a big JSON document.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import anyio

from qorch.domain.errors import NotFound
from qorch.http.presenters import present_job
from qorch.projections import jobs
from qorch.service import Service

MAX_WAIT_SECONDS = 300.0
RECORDED_WAIT_SECONDS = 30.0


async def await_recorded(service: Service, position: int) -> bool:
    """Waits until the read models show a write; False if they lag behind for too long."""
    return await service.projector.wait_for_position(position, RECORDED_WAIT_SECONDS)


async def read_job(
    service: Service,
    user_id: UUID,
    job_id: str,
    wait: float = 0.0,
    *,
    include_inputs: bool = True,
) -> dict[str, Any]:
    """The job as the client sees it; waits up to `wait` seconds for a final status."""
    deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
    while True:
        doc = jobs.get_job(service.views.connection(), str(user_id), job_id, with_inputs=False)
        if doc is None:
            raise NotFound("job", job_id)
        remaining = deadline - time.monotonic()
        if doc["status"] in jobs.FINAL or remaining <= 0:
            break
        await service.projector.wait_for_change(remaining)
    return await anyio.to_thread.run_sync(_present, service, str(user_id), job_id, include_inputs)


def _present(service: Service, user_id: str, job_id: str, include_inputs: bool) -> dict[str, Any]:
    db = service.views.connection()
    doc = jobs.get_job(db, user_id, job_id, with_inputs=include_inputs)
    if doc is None:
        raise NotFound("job", job_id)
    results = jobs.get_results(db, job_id) if doc["status"] in jobs.FINAL else None
    return present_job(doc, results)
