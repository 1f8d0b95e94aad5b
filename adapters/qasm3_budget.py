"""The OpenQASM 3 syntax tree, checked before qiskit-qasm3-import converts it.

That converter copies every gate definition into every call, so its cost is the expanded size:
register sizes are evaluated, gate counts are computed per definition, memoised, and multiplied
by loop iterations, and integer powers/shifts that would build huge numbers are refused. The
converter also builds each definition where it is *defined* (copying the gates it calls), so the
definitions' expanded sizes have a budget of their own, used or not; and gate modifiers are
costed for what they build (`ctrl @` decomposes the gate per control, `pow(k) @` computes the
gate's matrix). Nothing here builds the expanded program.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qorch.adapters.circuit_limits import CircuitLimitError, over_limit, too_many_gates
from qorch.domain.requests import Limits


def _too_many_defined(limits: Limits) -> str:
    return (
        f"defines gates holding more than {limits.max_gates:,} operations once expanded "
        "(called or not, each definition is built), which exceeds the limit (QORCH_MAX_GATES)"
    )


def _too_many_built(limits: Limits) -> str:
    return (
        f"builds more than {limits.max_gates:,} copies of nested gate definitions while it is "
        "read, which exceeds the limit (QORCH_MAX_GATES)"
    )


# --- the OpenQASM 3 syntax tree, before conversion -------------------------------------------

_MAX_INTEGER_BITS = 4096
"""Integer constants (sizes, indices, angles) bigger than this are refused, not computed."""

_MAX_POWER_QUBITS = 4
"""`pow(k) @ g` becomes a matrix of g (4^n entries, built by walking g's expanded definition),
which is synthesised back into gates when counted: 4 qubits is 256 entries and some 300 gates,
7 qubits already takes seconds."""

_MAX_FRACTIONAL_POWER_BASE = 1000
"""`pow(k) @ g` with k not a small integer is accepted only for gates this small (expanded)."""


def _control_factor(controls: int) -> int:
    """An upper bound on the operations one operation becomes under `ctrl(n) @` (measured with
    Qiskit 2: 1 control: up to 7 (h, ...); 2: 7; 3: 37; 4: 75; 8: 121; 24: 1113 per gate)."""
    return 1 + 6 * controls * controls


class _Qasm3Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.cap = limits.max_gates + 1
        self.gates: dict[str, int] = {}
        self.defined = 0  # what the converter builds for the definitions themselves
        # Gate objects (with a definition of their own) that the converter builds: one per call
        # of a defined gate and one per defined gate nested in the definition it copies.
        self.instances: dict[str, int] = {}
        self.built = 0
        self.registers: dict[str, int] = {}
        self.constants: dict[str, int] = {}
        self.declared = {"qubits": 0, "clbits": 0}

    def statements(self, statements: Iterable[Any]) -> int:
        total = 0
        for statement in statements:
            total = min(self.cap, total + self.statement(statement))
        return total

    def declare(self, node: Any, name: str, size: Any, kind: str, limit: int) -> None:
        """A register of `size` (None: one) named `name`, counted against the limit of its kind."""
        width = 1 if size is None else self.integer(size)
        if width is None:
            return
        self.registers[name] = width
        self.declared[kind] += width
        if self.declared[kind] > limit:
            raise CircuitLimitError(over_limit(kind, self.declared[kind], limit), _line(node))

    def statement(self, node: Any) -> int:  # noqa: PLR0911, PLR0912 (one branch per statement)
        from openqasm3 import ast

        if isinstance(node, ast.QubitDeclaration):
            self.declare(node, node.qubit.name, node.size, "qubits", self.limits.max_qubits)
            return 0
        if isinstance(node, ast.ClassicalDeclaration):
            if isinstance(node.type, ast.BitType):
                name, size = node.identifier.name, node.type.size
                self.declare(node, name, size, "clbits", self.limits.max_clbits)
            return 0 if node.init_expression is None else self.width([node.identifier])
        if isinstance(node, ast.ConstantDeclaration):
            value = self.integer(node.init_expression)
            if value is not None:
                self.constants[node.identifier.name] = value
            return 0
        if isinstance(node, ast.QuantumGateDefinition):
            # Inside the body, the gate's own qubit names shadow registers of the same name.
            registers = self.registers
            self.registers = {k: v for k, v in registers.items() if k not in _names(node.qubits)}
            built = self.built
            try:
                cost = max(1, self.statements(node.body))
            finally:
                self.registers = registers
            self.gates[node.name.name] = cost
            self.instances[node.name.name] = 1 + self.built - built
            # qiskit-qasm3-import builds the body here, a copy of each called gate's definition
            # included: a chain of definitions costs what it would cost called, even if unused.
            self.defined = min(self.cap, self.defined + cost)
            if self.defined > self.limits.max_gates:
                raise CircuitLimitError(_too_many_defined(self.limits), _line(node))
            return 0
        if isinstance(node, ast.QuantumGate):
            width = self.width(node.qubits)
            self.build(node, width)
            cost = self.modified(self.gates.get(node.name.name, 1), node)
            return min(self.cap, cost * width)
        if isinstance(node, ast.QuantumPhase) and node.modifiers:
            return min(self.cap, self.modified(1, node) * self.width(node.qubits))
        if isinstance(node, ast.QuantumMeasurementStatement):
            return self.width([node.measure.qubit])
        if isinstance(node, ast.QuantumReset):
            return self.width([node.qubits])
        if isinstance(node, ast.QuantumBarrier | ast.QuantumPhase | ast.DelayInstruction):
            return 1
        if isinstance(node, ast.ForInLoop):
            body = self.statements(node.block)
            return min(self.cap, body * self.iterations(node.set_declaration))
        if isinstance(node, ast.WhileLoop):
            # The iteration count is unknown: the executor's wall-clock limit bounds it.
            return self.statements(node.block)
        if isinstance(node, ast.BranchingStatement):
            return max(self.statements(node.if_block), self.statements(node.else_block))
        if isinstance(node, ast.SwitchStatement):
            bodies = [block for _, block in node.cases]
            if node.default is not None:
                bodies.append(node.default)
            return max((self.statements(body.statements) for body in bodies), default=0)
        if isinstance(node, ast.CompoundStatement):
            return self.statements(node.statements)
        if isinstance(node, ast.Box):
            return self.statements(node.body)
        return 0

    def build(self, node: Any, width: int) -> None:
        """Counts the gate objects the converter builds for a call: it deep-copies the called
        definition (every defined gate nested in it too) once per qubit it is broadcast over,
        about 50 µs each; modifiers build as much again (`inv @` inverts each nested gate)."""
        instances = self.instances.get(node.name.name, 0)
        if not instances:
            return
        copies = width * (2 if node.modifiers else 1)
        self.built = min(self.cap, self.built + instances * copies)
        if self.built > self.limits.max_gates:
            raise CircuitLimitError(_too_many_built(self.limits), _line(node))

    def modified(self, cost: int, node: Any) -> int:
        """The cost of a gate of `cost` operations under the statement's modifiers, applied
        innermost (last) first, as the converter does."""
        from openqasm3 import ast

        arity = len(node.qubits)  # of the modified gate: controls included
        for modifier in reversed(node.modifiers):
            if cost >= self.cap:
                return self.cap
            kind = modifier.modifier
            if kind is ast.GateModifierName.inv:
                continue  # the inverse of each operation: as many
            if kind is ast.GateModifierName.pow:
                cost = self.power(cost, arity, modifier)
                continue
            # ctrl / negctrl: Qiskit unrolls the gate and decomposes each operation controlled
            controls = 1 if modifier.argument is None else self.integer(modifier.argument)
            if controls is None or controls > self.limits.max_qubits:
                raise CircuitLimitError(
                    "the number of control qubits of a ctrl @ modifier must be a constant of at "
                    f"most {self.limits.max_qubits:,} (QORCH_MAX_QUBITS)",
                    _line(modifier),
                )
            cost = min(self.cap, cost * _control_factor(max(1, controls)))
        return cost

    def power(self, cost: int, arity: int, modifier: Any) -> int:
        """`pow(k) @ g`: Qiskit computes g's matrix (walking its expanded definition), raises it
        to k and synthesises that matrix back into gates. Counted as k copies of g for a whole k;
        other powers only for small gates."""
        if arity > _MAX_POWER_QUBITS:
            raise CircuitLimitError(
                f"pow(k) @ is only accepted on gates of at most {_MAX_POWER_QUBITS} qubits "
                f"(its matrix has 4^n entries); this one has {arity}",
                _line(modifier),
            )
        exponent = self.number(modifier.argument)
        if exponent is not None and float(exponent).is_integer() and abs(exponent) < self.cap:
            return min(self.cap, cost * max(1, abs(int(exponent))))
        if cost > _MAX_FRACTIONAL_POWER_BASE:
            raise CircuitLimitError(
                "pow(k) @ with k not a whole number (or a huge one) is only accepted on gates of "
                f"at most {_MAX_FRACTIONAL_POWER_BASE:,} operations once expanded; this one has "
                f"{cost:,} (QORCH_MAX_GATES)",
                _line(modifier),
            )
        return cost

    def number(self, node: Any) -> int | float | None:
        """A constant integer or float literal (optionally negated); None otherwise."""
        from openqasm3 import ast

        if node is None:
            return None
        value = self.integer(node)
        if value is not None:
            return value
        if isinstance(node, ast.FloatLiteral):
            return node.value
        if isinstance(node, ast.UnaryExpression) and node.op.name == "-":
            inner = self.number(node.expression)
            return None if inner is None else -inner
        return None

    def width(self, operands: Iterable[Any]) -> int:
        """How many times a statement is applied: registers given whole broadcast it."""
        from openqasm3 import ast

        width = 1
        for operand in operands:
            if isinstance(operand, ast.Identifier):
                width = max(width, self.registers.get(operand.name, 1))
            elif isinstance(operand, ast.IndexedIdentifier) and any(
                isinstance(index, ast.RangeDefinition | ast.DiscreteSet)
                for indices in operand.indices
                for index in (indices if isinstance(indices, list) else [indices])
            ):  # a slice, q[0:99]: at most the whole register
                width = max(width, self.registers.get(operand.name.name, 1))
        return width

    def iterations(self, node: Any) -> int:
        from openqasm3 import ast

        if isinstance(node, ast.DiscreteSet):
            return max(1, len(node.values))
        if isinstance(node, ast.RangeDefinition):
            start = 0 if node.start is None else self.integer(node.start)
            end = None if node.end is None else self.integer(node.end)
            step = 1 if node.step is None else self.integer(node.step)
            if start is None or end is None or step is None or step == 0:
                return 1
            return max(1, (end - start) // step + 1)
        return 1

    def integer(self, node: Any) -> int | None:
        """The value of a constant integer expression; None when it is not one."""
        return _integer(node, self.constants)


def _integer(node: Any, constants: dict[str, int]) -> int | None:  # noqa: PLR0911
    from openqasm3 import ast

    if isinstance(node, ast.IntegerLiteral):
        return _bounded(node.value, node)
    if isinstance(node, ast.Identifier):
        return constants.get(node.name)
    if isinstance(node, ast.UnaryExpression):
        value = _integer(node.expression, constants)
        if value is None:
            return None
        return {"-": -value, "~": ~value}.get(node.op.name)
    if not isinstance(node, ast.BinaryExpression):
        return None
    left = _integer(node.lhs, constants)
    right = _integer(node.rhs, constants)
    if left is None or right is None:
        return None
    op = node.op.name
    if op == "**":
        if right < 0:
            return None
        if abs(left) > 1 and right * left.bit_length() > _MAX_INTEGER_BITS:
            raise _huge(node)
        return _bounded(left**right, node)
    if op == "<<":
        if right < 0:
            return None
        if right + left.bit_length() > _MAX_INTEGER_BITS:
            raise _huge(node)
        return left << right
    if op == ">>":
        return left >> right if right >= 0 else None
    if op == "+":
        return _bounded(left + right, node)
    if op == "-":
        return _bounded(left - right, node)
    if op == "*":
        return _bounded(left * right, node)
    if op == "/":
        return left // right if right else None
    if op == "%":
        return left % right if right else None
    return None


def _bounded(value: int, node: Any) -> int:
    if value.bit_length() > _MAX_INTEGER_BITS:
        raise _huge(node)
    return value


def _huge(node: Any) -> CircuitLimitError:
    return CircuitLimitError(f"an integer expression exceeds {_MAX_INTEGER_BITS} bits", _line(node))


def _names(identifiers: Iterable[Any]) -> set[str]:
    return {identifier.name for identifier in identifiers}


def _line(node: Any) -> int | None:
    span = getattr(node, "span", None)
    return getattr(span, "start_line", None)


def check_qasm3_program(program: Any, limits: Limits) -> None:
    """Checks an OpenQASM 3 syntax tree (openqasm3.ast.Program) before it is converted."""
    _refuse_huge_integers(program)
    budget = _Qasm3Budget(limits)
    if budget.statements(program.statements) > limits.max_gates:
        raise CircuitLimitError(too_many_gates(limits))


def _refuse_huge_integers(program: Any) -> None:
    """Every `a ** b` and `a << b` of constants, anywhere (angles too): Python would compute
    10**10**10 as asked, for as long as it takes."""
    from openqasm3 import ast

    stack: list[Any] = [program]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        if not isinstance(node, ast.QASMNode):
            continue
        if isinstance(node, ast.BinaryExpression) and node.op.name in ("**", "<<"):
            _integer(node, {})
        stack.extend(
            value for value in vars(node).values() if isinstance(value, list | tuple | ast.QASMNode)
        )
