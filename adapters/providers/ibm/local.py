"""Runs in qiskit-ibm-runtime's local testing mode: the QPUs' primitives on a noisy Aer
simulator of a fake device, restricted to the qubits the job uses (no network, no credentials)."""

from __future__ import annotations

import time
from typing import Any

from qorch.adapters.providers.ibm import primitives, results
from qorch.adapters.providers.ibm.batches import batches, pubs
from qorch.adapters.providers.ibm.catalogue import fake_backend, hardware, sdk_version
from qorch.adapters.providers.ibm.circuits import Prepared, load_task, transpile
from qorch.adapters.providers.ibm.options import mitigation, parse_options
from qorch.adapters.providers.ibm.restrict import restrict
from qorch.domain.devices import Device
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome, ExecutionTask, ProviderError


def run(task: ExecutionTask, device: Device) -> ExecutionOutcome:
    """Runs a task on a local testing mode device."""
    found, remote = hardware(device)
    if remote:
        raise ProviderError("internal", f"{device.id} is a remote QPU: submit it, do not run it")
    options = parse_options(task.options, device)
    wanted = mitigation(options, task.use_mitigation)
    backend = fake_backend(found.fake_class)
    prepared, transpile_seconds = transpile(
        load_task(task, device), backend, options, snapshot=True
    )
    outcomes = [CircuitOutcome(transpiled=dict(p.shape)) for p in prepared]
    applied: dict[str, dict[str, Any]] = {}
    notes: dict[str, Any] = {}
    simulated: dict[str, list[int]] = {}

    def restricted(chosen: list[Prepared]) -> Any:
        return restrict(found.fake_class, chosen)

    started = time.perf_counter()
    try:
        for batch, restriction in batches(prepared, wanted, restricted):
            assert restriction is not None
            primitive_options = primitives.primitive_options(
                batch.kind, options, wanted, shots=task.shots, local=True
            )
            applied[batch.kind] = primitives.applied(batch.kind, primitive_options)
            simulated[batch.kind] = list(restriction.qubits)
            job = primitives.run(
                batch.kind, restriction.simulator, primitive_options, pubs(batch, task.shots)
            )
            notes.update(results.convert(batch, job.result(), task.shots, outcomes))
    except ProviderError:
        raise
    except Exception as error:
        raise ProviderError("simulation_failed", f"{type(error).__name__}: {error}") from error
    metadata: dict[str, Any] = {
        "device": device.id,
        "execution": "qiskit-ibm-runtime local testing mode",
        "noise": f"{found.fake_class} ({sdk_version()}), restricted to the qubits used",
        "simulated_qubits": simulated,
        "primitives": {kind: primitives.NAMES[kind] for kind in applied},
        "shots": task.shots,
        "optimization_level": options.optimization_level,
        "seed_transpiler": options.seed_transpiler,
        "seed_simulator": options.seed_simulator,
        "transpile_seconds": transpile_seconds,
        "execution_seconds": time.perf_counter() - started,
        "mitigation": results.metadata(wanted.requested, applied, notes),
    }
    results.add_shots_note(metadata, notes)
    return ExecutionOutcome(circuits=outcomes, metadata=metadata)
