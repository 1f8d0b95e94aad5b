"""A task's executions packed into IonQ jobs: one multi-circuit job per task, split only where
IonQ's limits on one job would be passed.

An execution is one circuit x parameter set x measurement group, bound and measured. IonQ's v0.4
API takes many circuits in one job (`ionq.multi-circuit.v1`: one child job per circuit, one
shot count for all); a job of one execution is sent as a plain `ionq.circuit.v1` job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qorch.adapters.providers.ionq.circuits import Prepared

MAX_CIRCUITS_PER_JOB = 5000
"""IonQ's limit on the circuits of one multi-circuit job (v0.4 create-job reference)."""
MAX_GATES_PER_JOB = 150_000
"""IonQ's limit on the gates of one multi-circuit job, over all its circuits (same reference)."""


@dataclass(frozen=True)
class Execution:
    circuit: int
    parameter_set: int
    group: int

    @property
    def tag(self) -> str:
        return f"{self.circuit}.{self.parameter_set}.{self.group}"


def executions(circuits: Sequence[Prepared]) -> Iterator[Execution]:
    """(circuit, parameter set, group) in submission order: the order of the results."""
    for c, circuit in enumerate(circuits):
        for p in range(len(circuit.values)):
            for g in range(len(circuit.measured)):
                yield Execution(c, p, g)


def pack(circuits: Sequence[Prepared]) -> list[list[Execution]]:
    """The executions in submission order, cut into IonQ jobs at IonQ's limits (an execution
    larger than a whole job still gets a job of its own: IonQ then says why it refuses it)."""
    jobs: list[list[Execution]] = [[]]
    gates = 0
    for execution in executions(circuits):
        shape = circuits[execution.circuit].shapes[execution.group]
        size = shape.get("gates_1q", 0) + shape.get("gates_2q", 0)
        current = jobs[-1]
        if current and (len(current) >= MAX_CIRCUITS_PER_JOB or gates + size > MAX_GATES_PER_JOB):
            current = []
            jobs.append(current)
            gates = 0
        current.append(execution)
        gates += size
    return [job for job in jobs if job]


def job_tag(start: int, count: int) -> str:
    """Names an IonQ job of a task by the executions it holds (stable across retries)."""
    return f"{start}:{start + count}"
