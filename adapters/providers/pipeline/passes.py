"""Pass managers, built once per target and settings: building one costs milliseconds, and a
sweep or a stream of small jobs would otherwise pay that per circuit."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit.transpiler import StagedPassManager

Coupling = tuple[tuple[int, int], ...]


@lru_cache(maxsize=64)
def pass_manager(
    optimization_level: int,
    seed_transpiler: int | None = None,
    *,
    backend: Any = None,
    basis_gates: tuple[str, ...] | None = None,
    coupling: Coupling | None = None,
) -> StagedPassManager:
    """A preset pass manager for a backend (itself cached by its provider, so it is the same
    object every time) or for a gate set with an optional coupling map (none: all-to-all)."""
    from qiskit.transpiler import CouplingMap, generate_preset_pass_manager

    if backend is not None:
        return generate_preset_pass_manager(
            optimization_level=optimization_level,
            backend=backend,
            seed_transpiler=seed_transpiler,
        )
    return generate_preset_pass_manager(
        optimization_level=optimization_level,
        basis_gates=list(basis_gates or ()),
        coupling_map=CouplingMap(list(coupling)) if coupling else None,
        seed_transpiler=seed_transpiler,
    )
