"""A user's own gates never pass for instructions that simulators or the transpiler know by name.

The transpiler keeps any operation whose *name* its target lists, and Aer then runs its own
instruction of that name: a user `gate unitary a { ... }` (what `qasm3.dumps` writes for every
UnitaryGate) reaches Aer as a matrix instruction without a matrix (IndexError), and a user `gate
h a { x a; }` runs as H. So a user-defined gate whose name is reserved (Aer's basis gates and
custom instructions, read from qiskit-aer; Qiskit's standard gates; the control-flow names)
becomes Qiskit's standard gate where its definition is that gate (standard_gates.py), and is
renamed `<name>_gate` otherwise: for OpenQASM 3 in the syntax tree first (before Qiskit builds
`ctrl @ x` for a user `x` as a CX, by its name), for OpenQASM 2 on the parsed circuit, whose
loader also reads a program's own `gate rzz ...` as Qiskit's RZZGate unless told otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from qiskit.circuit import ControlFlowOp, Gate

from qorch.adapters.providers.pipeline.standard_gates import (
    definition_of,
    is_user_gate,
    standard_equivalent,
    standard_names_redefined,
)

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

SUFFIX = "_gate"


@functools.cache
def reserved_names() -> frozenset[str]:
    """Instruction names that mean something to a simulator or the transpiler."""
    from qiskit.circuit import CONTROL_FLOW_OP_NAMES
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit_aer import AerSimulator

    aer = AerSimulator().configuration()  # method "automatic": the union over Aer's methods
    return frozenset(
        {
            *aer.basis_gates,
            *getattr(aer, "custom_instructions", ()),
            *get_standard_gate_name_mapping(),
            *CONTROL_FLOW_OP_NAMES,
            "barrier",
            "store",
            "break_loop",
            "continue_loop",
        }
    )


def fresh_name(name: str, taken: set[str]) -> str:
    candidate, number = name + SUFFIX, 1
    while candidate in taken or candidate in reserved_names():
        number += 1
        candidate = f"{name}{SUFFIX}{number}"
    taken.add(candidate)
    return candidate


# --- OpenQASM 3: the syntax tree, before conversion ----------------------------------------


def rename_in_program(program: Any) -> dict[str, str]:
    """Renames, in place, the reserved names of gates an openqasm3 Program defines, at their
    definitions and every call; answers the new names' old ones. A redefinition of a gate
    `stdgates.inc` already defines is left alone, so the converter still refuses it."""
    from openqasm3 import ast

    statements = program.statements
    included = any(isinstance(s, ast.Include) and s.filename == "stdgates.inc" for s in statements)
    standard = _stdgates_names() if included else frozenset()
    clashing = {
        s.name.name
        for s in statements
        if isinstance(s, ast.QuantumGateDefinition)
        and s.name.name in reserved_names()
        and s.name.name not in standard
    }
    if not clashing:
        return {}
    nodes = list(_nodes(program))
    taken = {node.name for node in nodes if isinstance(node, ast.Identifier)}
    renamed = {name: fresh_name(name, taken) for name in sorted(clashing)}
    for node in nodes:
        if isinstance(node, ast.QuantumGate | ast.QuantumGateDefinition):
            node.name.name = renamed.get(node.name.name, node.name.name)
    return {new: old for old, new in renamed.items()}


@functools.cache
def _stdgates_names() -> frozenset[str]:
    from qiskit.qasm3 import STDGATES_INC_GATES

    return frozenset(gate.name for gate in STDGATES_INC_GATES)


def _nodes(program: Any) -> Iterable[Any]:
    from openqasm3 import ast

    stack: list[Any] = [program]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, ast.QASMNode):
            yield node
            stack.extend(
                value
                for value in vars(node).values()
                if isinstance(value, list | tuple | ast.QASMNode)
            )


# --- the parsed circuit ---------------------------------------------------------------------


def rename_reserved(
    circuit: QuantumCircuit, renamed: Mapping[str, str] | None = None
) -> QuantumCircuit:
    """`circuit`, or a copy in which every user-defined gate with a reserved name is Qiskit's
    standard gate where its definition is that gate, and is renamed otherwise; inside
    control-flow blocks and gate definitions too (those when first built). `renamed` maps the
    names `rename_in_program` gave to the program's own."""
    return _Renamer(renamed or {}).circuit(circuit)


class _Renamer:
    def __init__(self, renamed: Mapping[str, str]) -> None:
        self.renamed = renamed
        self.names: dict[str, str] = {}
        self.taken: set[str] = set(renamed)
        self.needed: dict[tuple[str, str, int], bool] = {}

    def needs(self, operation: Any) -> bool:
        if isinstance(operation, ControlFlowOp):
            return any(self.circuit_needs(block) for block in operation.blocks)
        if not is_user_gate(operation):
            return False
        if operation.name in reserved_names() or operation.name in self.renamed:
            return True
        # A program defines each name once, so one walk of its definition answers for all calls.
        key = (type(operation).__qualname__, operation.name, operation.num_qubits)
        if key not in self.needed:
            self.needed[key] = False  # a definition that calls itself is not walked forever
            definition = definition_of(operation)
            self.needed[key] = definition is not None and self.circuit_needs(definition)
        return self.needed[key]

    def circuit_needs(self, circuit: QuantumCircuit) -> bool:
        return any(self.needs(instruction.operation) for instruction in circuit.data)

    def circuit(self, circuit: QuantumCircuit) -> QuantumCircuit:
        if not self.circuit_needs(circuit):
            return circuit
        renamed = circuit.copy_empty_like()
        for instruction in circuit.data:
            operation = self.operation(instruction.operation)
            renamed._append(instruction.replace(operation=operation))
        return renamed

    def operation(self, operation: Any) -> Any:
        if not self.needs(operation):
            return operation
        if isinstance(operation, ControlFlowOp):
            return operation.replace_blocks([self.circuit(block) for block in operation.blocks])
        name = operation.name
        standard = standard_equivalent(operation, self.renamed.get(name, name))
        if standard is not None:
            return standard
        if name in self.renamed:  # renamed in the program: nothing reserved inside it
            return operation
        if name in reserved_names():
            if name not in self.names:
                self.names[name] = fresh_name(name, self.taken)
            name = self.names[name]
        return _RenamedGate(operation, name, self)


class _RenamedGate(Gate):
    """A user's gate under its new name; its definition, renamed likewise, is built on demand."""

    def __init__(self, original: Gate, name: str, renamer: _Renamer) -> None:
        super().__init__(name, original.num_qubits, list(original.params), label=original.label)
        self._original = original
        self._renamer = renamer

    def _define(self) -> None:
        definition = definition_of(self._original)
        self.definition = None if definition is None else self._renamer.circuit(definition)


# --- OpenQASM 2: Qiskit's loader reads a program's `gate rzz ...` as its own RZZGate ----------

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_DEFINED = re.compile(r"\b(?:gate|opaque)\s+([A-Za-z_]\w*)")


def load_qasm2_as_defined(
    source: str,
    loads: Callable[[str, Iterable[Any]], QuantumCircuit],
    check: Callable[[QuantumCircuit], None],
) -> QuantumCircuit:
    """`loads(source, custom_instructions)` with Qiskit's legacy instruction set (what
    qasm2.dumps writes), except the gates the program defines otherwise than Qiskit does; then
    `rename_reserved`. `check` refuses a circuit too large to compare its gates' matrices with."""
    from qiskit import qasm2

    defined = set(_DEFINED.findall(_COMMENT.sub(" ", source)))
    legacy = {instruction.name: instruction for instruction in qasm2.LEGACY_CUSTOM_INSTRUCTIONS}
    if not defined:  # no gate of the program's own
        return loads(source, legacy.values())
    for name in _UNREADABLE & defined:
        source = re.sub(rf"\b{name}\b", fresh_name(name, defined), source)
    own = defined & set(legacy)
    try:
        circuit = loads(source, [i for name, i in legacy.items() if name not in own])
    except Exception:  # e.g. a standard gate called before the program defines it
        own, circuit = set(), loads(source, legacy.values())
    check(circuit)
    if own:
        builders = {name: legacy[name].constructor for name in own}
        differing = standard_names_redefined(circuit, own, builders)
        if differing != own:
            circuit = loads(source, [i for name, i in legacy.items() if name not in differing])
    return rename_reserved(circuit)


_UNREADABLE = frozenset({"store"})
"""Gate names qiskit.qasm2 cannot read a program's definition of (IndexError in Qiskit 2.6):
renamed in the text. `store` is no OpenQASM 2 keyword, so every such word is that gate."""
