"""One job submitted and read back Done, and where its time went.

The server-side split comes from the job's own event timestamps (made by the server when each
event is recorded; the benchmark runs on the same machine, so its wall clock is comparable) and
the metadata the worker reports (`transpile_seconds`, `execution_seconds`: Aer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from common import RUN_PATH

PHASES = (
    "send->Submitted",
    "Submitted->answered",
    "Submitted->Claimed",
    "Claimed->Executed",
    "  transpile",
    "  Aer",
    "  rest of the call",
    "Executed->client",
)
"""`send->Submitted`: reading, checking and planning the request. `Submitted->answered`: the
Submitted event made durable and projected, and the answer sent (overlaps what follows).
`rest of the call`: Claimed->Executed less transpile and Aer: the hop to the worker process and
back (pickling), parsing, binding, nesting the results, building the Executed event.
`Executed->client`: recording Executed, projecting it, waking the long-poll, encoding and
sending the Done document, decoding it in the client."""


def phases(
    job: dict[str, Any], sent_at: float, answered_at: float, read_at: float
) -> dict[str, float]:
    """Seconds of each phase in `PHASES` of a Done job (wall-clock `time.time()` marks)."""
    when = {e["type"]: datetime.fromisoformat(e["timestamp"]).timestamp() for e in job["events"]}
    metadata = job["info"]["metadata"]
    transpile = float(metadata["transpile_seconds"])
    aer = float(metadata["execution_seconds"])
    executing = when["Executed"] - when["Claimed"]
    return {
        "send->Submitted": when["Submitted"] - sent_at,
        "Submitted->answered": answered_at - when["Submitted"],
        "Submitted->Claimed": when["Claimed"] - when["Submitted"],
        "Claimed->Executed": executing,
        "  transpile": transpile,
        "  Aer": aer,
        "  rest of the call": executing - transpile - aer,
        "Executed->client": read_at - when["Executed"],
    }


@dataclass
class Read:
    answered: float
    """Seconds from sending the submit to its answer."""
    seconds: float
    """Seconds from sending the submit to the Done document (results included) decoded."""
    job: dict[str, Any]
    phases: dict[str, float]
    """Empty unless the job is Done."""
    size: int
    """Bytes of the Done document."""


def submit_and_read(client: httpx.Client, body: dict[str, Any], wait: float = 300) -> Read:
    """Submits `body`, long-polls the job until final; raises on a non-2xx submit."""
    started = time.perf_counter()
    sent_at = time.time()
    answer = client.post(RUN_PATH, json=body)
    answered = time.perf_counter()
    answered_at = time.time()
    answer.raise_for_status()
    job_id = answer.json()["job"]["id"]
    document = client.get(f"/jobs/{job_id}", params={"wait": wait})
    job: dict[str, Any] = document.json()
    seconds = time.perf_counter() - started
    read_at = time.time()
    done = job.get("status") == "Done"
    split = phases(job, sent_at, answered_at, read_at) if done else {}
    return Read(answered - started, seconds, job, split, len(document.content))
