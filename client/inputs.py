"""What `qorch run` reads from its command line: QASM files, counts, observables written
`"ZZ:1.0,XI:0.5"` and parameter files (CSV or JSON). Each reader raises ArgumentTypeError with
the reason, which argparse reports with exit status 2."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

TERM = re.compile(r"\s*([IXYZ]+)\s*(?::\s*(\S+?))?\s*", re.I)


def qasm_file(name: str) -> tuple[str, str]:
    try:
        return name, Path(name).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise argparse.ArgumentTypeError(f"cannot read {name}: {error}") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def observable(spec: str) -> list[list[Any]]:
    """`"ZZ:1.0,XI:0.5"` -> `[["ZZ", "XI"], [1.0, 0.5]]` (a term without `:` weighs 1)."""
    paulis: list[str] = []
    coefficients: list[float] = []
    for term in spec.split(","):
        match = TERM.fullmatch(term)
        try:
            coefficient = float(match.group(2) or 1.0) if match else None
        except ValueError:
            coefficient = None
        if match is None or coefficient is None:
            raise argparse.ArgumentTypeError(
                f"{term.strip()!r} in {spec!r}: expected PAULIS[:COEFFICIENT], e.g. ZZ:1.0"
            )
        paulis.append(match.group(1).upper())
        coefficients.append(coefficient)
    if len({len(p) for p in paulis}) > 1:
        raise argparse.ArgumentTypeError(f"{spec!r}: every term must act on as many qubits")
    return [paulis, coefficients]


def parameter_file(name: str) -> list[Any]:
    try:
        text = Path(name).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise argparse.ArgumentTypeError(f"cannot read {name}: {error}") from None
    try:
        sets = _from_csv(text) if name.lower().endswith(".csv") else json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{name}: {error}") from None
    if _depth(sets) not in (1, 2, 3):
        raise argparse.ArgumentTypeError(
            f"{name}: expected numbers: a set, a list of sets, or a list of sets per circuit"
        )
    return list(sets)


def _from_csv(text: str) -> list[list[float]]:
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if rows and not all(_is_number(cell) for cell in rows[0]):
        rows = rows[1:]  # a header of parameter names
    sets = []
    for line, row in enumerate(rows, 1):
        if not all(_is_number(cell) for cell in row):
            raise ValueError(f"row {line} is not all numbers: {row}")
        sets.append([float(cell) for cell in row])
    if not sets:
        raise ValueError("no parameter sets")
    return sets


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _depth(value: Any) -> int:
    """How deep a list of numbers nests (0 for a number, -1 when it is not one)."""
    if isinstance(value, bool):
        return -1
    if isinstance(value, int | float):
        return 0
    if not isinstance(value, list) or not value:
        return -1
    depths = {_depth(item) for item in value}
    return depths.pop() + 1 if len(depths) == 1 and -1 not in depths else -1


def per_circuit(sets: list[Any], circuits: int) -> list[Any]:
    """A set, or a list of sets, is each circuit's; a list per circuit goes as it is."""
    depth = _depth(sets)
    if depth == 3:
        return sets
    return [[sets] if depth == 1 else sets] * circuits
