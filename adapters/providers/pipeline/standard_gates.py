"""Whether a gate a program defines itself is Qiskit's standard gate of the same name.

`qiskit.qasm3.dumps` (hence every circuit the haiqu-sdk uploads) writes a definition for each
gate outside stdgates.inc (`gate rzz ...`, `gate ecr ...`), and older `qasm2.dumps` did the same:
those are the standard gates, and must stay standard gates so that a device's native `rzz` or
`ecr` is used. A definition that differs (beyond a global phase, which `qasm3.dumps` drops for
some gates, e.g. sxdg) is the user's own gate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from qiskit.circuit import ControlFlowOp, ControlledGate, Gate, ParameterExpression

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_PROBE = 0.7310585786300049
"""Where free parameters are bound to compare two gates (any value away from special angles)."""


def is_user_gate(operation: Any) -> bool:
    """A gate a program defined (Qiskit builds those as plain Gate objects), not a library one."""
    kind = type(operation)
    return kind in (Gate, ControlledGate) or kind.__module__ == "qiskit.qasm2.parse"


def definition_of(operation: Any) -> QuantumCircuit | None:
    try:
        definition: QuantumCircuit | None = operation.definition
    except Exception:  # opaque gates
        return None
    return definition


@functools.cache
def _standard() -> Mapping[str, Any]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    return get_standard_gate_name_mapping()


def standard_equivalent(operation: Gate, name: str) -> Gate | None:
    """Qiskit's standard gate `name` with the operation's parameters, when the operation's
    definition is that gate; None otherwise."""
    template = _standard().get(name)
    if not isinstance(template, Gate) or not equivalent(operation, template.base_class):
        return None
    gate: Gate = template.base_class(*operation.params)
    return gate


def equivalent(operation: Gate, build: Callable[..., Any]) -> bool:
    """Whether `build(*operation.params)` has the operation's definition's matrix, up to a global
    phase; free parameters are bound to one value on both sides."""
    from qiskit.quantum_info import Operator

    definition = definition_of(operation)
    if definition is None:
        return False
    free = set(definition.parameters)
    for param in operation.params:
        if isinstance(param, ParameterExpression):
            free |= param.parameters
    values = dict.fromkeys(free, _PROBE)
    try:
        params = [_bound(param, values) for param in operation.params]
        gate = build(*params)
        if gate.num_qubits != operation.num_qubits:
            return False
        bound = definition.assign_parameters(
            {p: values[p] for p in definition.parameters}, inplace=False
        )
        return bool(Operator(bound).equiv(Operator(gate)))
    except Exception:  # other parameters than the standard gate takes
        return False


def _bound(param: Any, values: dict[Any, float]) -> Any:
    if not isinstance(param, ParameterExpression):
        return param
    return float(param.bind(values, allow_unknown_parameters=True))


def standard_names_redefined(
    circuit: QuantumCircuit, names: set[str], builders: Mapping[str, Callable[..., Any]]
) -> set[str]:
    """Of `names`, those whose definition in the program (`circuit` read without the standard
    gates of those names) differs, at some call, from what `builders[name]` builds with the
    same parameters. An opaque gate has nothing to compare: the standard gate stands."""
    differing: set[str] = set()
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    stack = [circuit]
    while stack:
        for instruction in stack.pop().data:
            operation = instruction.operation
            if isinstance(operation, ControlFlowOp):
                stack.extend(operation.blocks)
                continue
            if not is_user_gate(operation):
                continue
            key = (operation.name, tuple(operation.params))
            if key in seen:
                continue
            seen.add(key)
            definition = definition_of(operation)
            if definition is None:
                continue
            stack.append(definition)
            name = operation.name
            if name in names - differing and not equivalent(operation, builders[name]):
                differing.add(name)
    return differing
