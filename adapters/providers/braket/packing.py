"""How a job's executions become Braket tasks: packed into program sets (many executions in one
task, so one per-task fee) up to the device's limits, else one task per execution.

An execution is (circuit, measurement group, parameter set). A program set holds programs; each
is one circuit's measured variant with a contiguous range of parameter sets as list inputs
(`inputs={"p_0": [...], ...}`), one executable per set. Measurement groups are qorch's own
(qubit-wise commuting Pauli terms, the basis change written into each group's program): Braket's
CircuitBinding observables would make one executable per Pauli term, never fewer. Executions are
spread evenly over the fewest tasks the limits allow; packing is deterministic, so a submit tried
again makes the same tasks under the same client tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.braket.catalogue import ProgramSetLimits
from qorch.adapters.providers.braket.programs import LoadedCircuit, Program

if TYPE_CHECKING:
    from braket.ir.openqasm import ProgramSet

Slice = tuple[int, int, int, int]
"""(circuit, group, first set, end set): one program of a program set; its sets, its executables."""
Work = Sequence[tuple[int, Sequence[bool]]]
"""Per circuit: its parameter sets, and per measurement group whether its program takes inputs."""


def work_of(loaded: Sequence[LoadedCircuit], programs: Sequence[Sequence[Program]]) -> Work:
    return [
        (len(circuit.values), [bool(program.inputs) for program in ps])
        for circuit, ps in zip(loaded, programs, strict=True)
    ]


def pack(work: Work, shots: int, limits: ProgramSetLimits | None) -> list[list[Slice]] | None:
    """Each task's programs, every execution in exactly one; None: one task per execution (no
    program-set action, a single execution, or not even two executions fit in a task)."""
    executions = [
        (circuit, group, index)
        for circuit, (sets, groups) in enumerate(work)
        for group in range(len(groups))
        for index in range(sets)
    ]
    if limits is None or len(executions) < 2:
        return None
    per_task = limits.executables
    if limits.total_shots is not None:
        per_task = min(per_task, limits.total_shots // max(shots, 1))
    if per_task < 2:
        return None
    tasks = -(-len(executions) // per_task)
    size, extra = divmod(len(executions), tasks)
    if limits.minimum_total_shots is not None and size * shots < limits.minimum_total_shots:
        return None
    chunks, start = [], 0
    for number in range(tasks):
        end = start + size + (1 if number < extra else 0)
        chunks.append(_programs(executions[start:end], work))
        start = end
    return chunks


def _programs(executions: Sequence[tuple[int, int, int]], work: Work) -> list[Slice]:
    """Consecutive sets of one circuit and group share a program; a program without inputs runs
    once, so each of its sets is a program of its own."""
    slices: list[Slice] = []
    for circuit, group, index in executions:
        if slices and work[circuit][1][group]:
            c, g, first, end = slices[-1]
            if (c, g, end) == (circuit, group, index):
                slices[-1] = (c, g, first, index + 1)
                continue
        slices.append((circuit, group, index, index + 1))
    return slices


def executables(slices: Sequence[Slice]) -> int:
    return sum(end - first for _, _, first, end in slices)


def program_set(
    slices: Sequence[Slice],
    loaded: Sequence[LoadedCircuit],
    programs: Sequence[Sequence[Program]],
) -> ProgramSet:
    """The OpenQASM program set (Braket's `braket.ir.openqasm.program_set` action) of one task."""
    from braket.ir.openqasm import Program as BraketProgram
    from braket.ir.openqasm import ProgramSet

    items = []
    for circuit, group, first, end in slices:
        program = programs[circuit][group]
        values = loaded[circuit].values[first:end]
        inputs = {name: [row[index] for row in values] for name, index in program.inputs}
        items.append(BraketProgram(source=program.source, inputs=inputs or None))
    return ProgramSet(programs=items)


def limits_of(properties: Any) -> ProgramSetLimits | None:
    """The program-set limits a device's properties declare (AwsDevice or LocalSimulator)."""
    actions = getattr(properties, "action", None) or {}
    action = actions.get("braket.ir.openqasm.program_set")
    if action is None:
        return None
    fields = action if isinstance(action, dict) else action.dict()
    minimum = fields.get("minimumTotalShots")
    return ProgramSetLimits(
        executables=int(fields["maximumExecutables"]),
        total_shots=int(fields["maximumTotalShots"]),
        minimum_total_shots=None if minimum is None else int(minimum),
    )


def as_data(chunks: Sequence[Sequence[Slice]]) -> list[list[list[int]]]:
    """JSON-safe, for the job's provider data."""
    return [[list(piece) for piece in chunk] for chunk in chunks]


def from_data(value: Any) -> list[list[Slice]]:
    return [
        [(int(c), int(g), int(first), int(end)) for c, g, first, end in chunk] for chunk in value
    ]
