"""What Aer is asked to run, whichever way a run reaches it (`AerSimulator.run`, or the
synchronous call of `qorch.adapters.providers.local.client.ran`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from qiskit_aer import AerSimulator


def noted_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, dict[str, Any]]]:
    """Every simulator run from now on: its number of circuits and its run options."""
    noted: list[tuple[int, dict[str, Any]]] = []
    _note(monkeypatch, lambda circuits, options: noted.append((len(circuits), options)))
    return noted


def noted_options(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The run options of every simulator run from now on."""
    noted: list[dict[str, Any]] = []
    _note(monkeypatch, lambda circuits, options: noted.append(options))
    return noted


def _note(monkeypatch: pytest.MonkeyPatch, note: Callable[[Any, dict[str, Any]], None]) -> None:
    execute = AerSimulator._execute_circuits_job

    def noting(
        self: AerSimulator, circuits: Any, binds: Any, options: dict[str, Any], *more: Any
    ) -> Any:
        note(circuits, dict(options))
        return execute(self, circuits, binds, options, *more)

    monkeypatch.setattr(AerSimulator, "_execute_circuits_job", noting)
