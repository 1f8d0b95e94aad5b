"""The Lab's text fields: parameter sets typed as CSV (or JSON) and observables typed as lines
of Pauli terms (or JSON), read into the run request's shapes and written back from a job.

CSV: one parameter set a row; an optional header row names the columns, which then bind by
name to each circuit's parameters (a circuit without parameters gets one empty set); without a
header the columns bind in each circuit's parameter order. Observables: one a line, terms
joined by + or -, each an optional coefficient and a Pauli label: `0.5*ZZ - 0.25 XX + ZI`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any

from qorch.domain.errors import RequestError

TERM = re.compile(
    r"\s*(?P<sign>[+-])?\s*(?P<coefficient>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)?\s*\*?\s*"
    r"(?P<pauli>[IXYZ]+)\s*"
)


def _json(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise RequestError(field, f"is not valid JSON: {error}") from None


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise RequestError(
            "parameters", f"{where}: {cell.strip()[:40]!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise RequestError("parameters", f"{where}: must be a finite number")
    return value


def _entered(text: str, field: str, shape: str) -> str | list[Any] | None:
    """What a box holds: None when it is left empty, the list its JSON gives (`shape`), or its
    text, stripped, in the box's own format."""
    text = text.strip()
    if not text:
        return None
    if not text.startswith("["):
        return text
    parsed = _json(text, field)
    if not isinstance(parsed, list):
        raise RequestError(field, f"JSON must be a list: {shape}")
    return parsed


def _is_header(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return True
    return False


def parse_parameters(text: str, circuit_parameters: list[list[str]]) -> list[Any] | None:
    """[circuit][parameter_set][value] for the chosen circuits, or None when left empty."""
    entered = _entered(text, "parameters", "[circuit][parameter_set][value]")
    if not isinstance(entered, str):
        return entered
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(entered)) if row]
    header: list[str] | None = None
    if rows and _is_header(rows[0]):
        header, rows = rows[0], rows[1:]
        if len(set(header)) != len(header):
            raise RequestError("parameters", "the header names a parameter twice")
    if not rows:
        raise RequestError("parameters", "no parameter sets: give one row of values per set")
    width = len(header) if header is not None else len(rows[0])
    sets: list[list[float]] = []
    for r, row in enumerate(rows, start=2 if header is not None else 1):
        if len(row) != width:
            raise RequestError("parameters", f"row {r}: {len(row)} values, expected {width}")
        sets.append([_number(cell, f"row {r}") for cell in row])
    return [_bind(header, sets, names, c) for c, names in enumerate(circuit_parameters)]


def _bind(
    header: list[str] | None, sets: list[list[float]], names: list[str], circuit: int
) -> list[list[float]]:
    if not names:
        return [[]]
    if header is None:
        return sets
    missing = [name for name in names if name not in header]
    if missing:
        raise RequestError(
            "parameters",
            f"the header has no column for {', '.join(missing)} (parameter of circuit {circuit})",
        )
    columns = [header.index(name) for name in names]
    return [[values[column] for column in columns] for values in sets]


def parameters_csv(names: list[str], sets: list[list[float]]) -> str:
    """The sets as CSV with a header row (what `parse_parameters` reads back)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([[repr(float(value)) for value in values] for values in sets])
    return out.getvalue()


def parameters_text(parameters: list[Any] | None, names: list[list[str]]) -> str:
    """A job's parameters as the Lab shows them: CSV when every circuit with parameters binds
    the same names to the same sets, JSON otherwise."""
    if parameters is None:
        return ""
    shared = {
        (tuple(circuit_names), json.dumps(sets))
        for circuit_names, sets in zip(names, parameters, strict=False)
        if circuit_names
    }
    if len(shared) == 1 and len(names) == len(parameters):
        circuit_names, sets = shared.pop()
        return parameters_csv(list(circuit_names), json.loads(sets))
    return json.dumps(parameters)


def _term(match: re.Match[str], first: bool, line: int) -> tuple[str, float]:
    if match["sign"] is None and not first:
        raise RequestError("observables", f"line {line}: join terms with + or -")
    coefficient = float(match["coefficient"]) if match["coefficient"] else 1.0
    return match["pauli"], -coefficient if match["sign"] == "-" else coefficient


def parse_observable(line: str, number: int) -> list[list[Any]]:
    paulis: list[str] = []
    coefficients: list[float] = []
    at = 0
    while at < len(line):
        match = TERM.match(line, at)
        if match is None or match.end() == at:
            raise RequestError(
                "observables",
                f"line {number}: cannot read {line[at:][:30].strip()!r}; write terms like "
                "0.5*ZZ + 0.5*XX (Pauli labels of I, X, Y, Z)",
            )
        pauli, coefficient = _term(match, not paulis, number)
        paulis.append(pauli)
        coefficients.append(coefficient)
        at = match.end()
    return [paulis, coefficients]


def parse_observables(text: str, circuits: int) -> list[Any] | None:
    """[circuit][observable] (each line's observable for every chosen circuit), the JSON as
    given, or None when left empty."""
    entered = _entered(text, "observables", "[circuit][observable]")
    if not isinstance(entered, str):
        return entered
    observables = [
        parse_observable(line, number)
        for number, line in enumerate(entered.splitlines(), start=1)
        if line.strip()
    ]
    return [observables for _ in range(max(circuits, 1))]


def observable_label(observable: list[Any]) -> str:
    """`[["ZZ", "XX"], [0.5, -0.5]]` as `0.5*ZZ - 0.5*XX` (coefficient 1 left out)."""
    paulis, coefficients = observable
    text = ""
    for i, (pauli, coefficient) in enumerate(zip(paulis, coefficients, strict=False)):
        value = float(coefficient)
        sign = "-" if value < 0 else "+"
        magnitude = abs(value)
        term = pauli if magnitude == 1 else f"{magnitude!r}*{pauli}"
        text += (f"-{term}" if sign == "-" else term) if i == 0 else f" {sign} {term}"
    return text


def observables_text(observables: list[Any] | None) -> str:
    """A job's observables as lines when every circuit has the same ones, JSON otherwise."""
    if observables is None:
        return ""
    first = observables[0] if observables else []
    if all(circuit == first for circuit in observables):
        return "\n".join(observable_label(observable) for observable in first)
    return json.dumps(observables)
