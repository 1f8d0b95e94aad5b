"""One job submitted and read back Done, and where its time went; the repeats of a workload
measured against its baseline, interleaved (`interleaved`).

The server-side split comes from the job's own event timestamps (made by the server when each
event is recorded; the benchmark runs on the same machine, so its wall clock is comparable) and
the metadata the worker reports (`transpile_seconds`, `execution_seconds`: Aer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
from common import RUN_PATH, served, title
from rows import quantity
from stats import median

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


@dataclass
class Measured:
    """The repeats of one workload: qorch's reads and the baseline's seconds."""

    reads: list[Read] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)

    def add(self, read: Read, direct_seconds: float | None = None) -> None:
        self.reads.append(read)
        if direct_seconds is not None:
            self.direct.append(direct_seconds)

    @property
    def qorch(self) -> list[float]:
        return [read.seconds for read in self.reads]

    def print_phases(self, indent: str) -> None:
        """The median of each phase over the Done jobs."""
        done = [read.phases for read in self.reads if read.phases]
        if not done:
            return
        for phase in PHASES:
            print(f"{indent}{phase:<21} {quantity(median([p[phase] for p in done]), 's')}")


@dataclass
class Case:
    """One workload of an interleaved benchmark: qorch runs `body`; `direct()` runs the baseline
    in this process (its seconds and results); `check(job, direct results)` compares them."""

    body: dict[str, Any]
    direct: Callable[[], tuple[float, Any]]
    check: Callable[[dict[str, Any], Any], list[str]]
    measured: Measured = field(default_factory=Measured)


class Workload(Protocol):
    def title(self) -> str: ...

    def warm_up(self, client: httpx.Client, experiment_id: str) -> None: ...

    def cases(self, experiment_id: str) -> list[Case]: ...


def interleaved(
    workload: Workload, name: str, repeats: int, poll_interval: str | None
) -> tuple[list[Case], list[str]]:
    """Each case run by qorch, then directly, `repeats` times in turn after the workload's
    warm-up; the cases with what they measured, and the problems seen."""
    title(f"{workload.title()}; {repeats} interleaved repeats")
    problems: list[str] = []
    with served(poll_interval) as server, server.client(timeout=600) as client:
        experiment_id = server.create_experiment(name)
        workload.warm_up(client, experiment_id)
        cases = workload.cases(experiment_id)
        for _ in range(repeats):
            for case in cases:
                read = submit_and_read(client, case.body)
                seconds, direct = case.direct()
                problems += case.check(read.job, direct)
                case.measured.add(read, seconds)
    return cases, problems
