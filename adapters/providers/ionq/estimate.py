"""A dry run: the task transpiled and packed into IonQ jobs as a run would be, priced from the
versioned price table (QPUs; the per-job minimum once per IonQ job) or timed by a rough model
(the free simulator). Never calls IonQ."""

from __future__ import annotations

from collections import Counter
from typing import Any

from qorch.adapters.providers.ionq.batches import pack
from qorch.adapters.providers.ionq.catalogue import spec_of
from qorch.adapters.providers.ionq.circuits import prepare
from qorch.adapters.providers.ionq.options import mitigation, parse_options
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionTask
from qorch.domain.pricing import CircuitCost, estimate_cost

# Simulator wall time (order of magnitude): per execution, queueing and overhead, plus per gate
# and amplitude.
SIMULATOR_JOB_SECONDS = 2.0
SIMULATOR_AMPLITUDE_SECONDS = 1e-9


def estimate(task: ExecutionTask, device: Device) -> CostEstimate:
    spec = spec_of(device)
    options = parse_options(device, task.options)
    mitigated = mitigation(spec, options, task.use_mitigation, task.shots)
    circuits = prepare(task, device, options)
    shapes = [circuit.shapes[0] for circuit in circuits]
    jobs = pack(circuits)
    details: dict[str, Any] = {
        "device": device.id,
        "ionq_backend": spec.backend,
        "ionq_jobs": len(jobs),
        "executions_per_circuit": [circuit.executions for circuit in circuits],
        "measurement_groups": [len(circuit.measured) for circuit in circuits],
        "optimization_level": options.optimization_level,
        "mitigation": mitigated,
    }
    if device.price_key is None:
        per_circuit = [c.executions * _simulator_seconds(c.shapes[0]) for c in circuits]
        return CostEstimate(
            seconds=sum(per_circuit),
            usd=0.0,
            circuits=shapes,
            breakdown={
                **details,
                "noise_model": options.noise_model,
                "per_circuit_seconds": per_circuit,
                "model": f"free; per execution {SIMULATOR_JOB_SECONDS:g} s + gates x 2^qubits x "
                f"{SIMULATOR_AMPLITUDE_SECONDS:g} s",
            },
        )
    # One priced entry per (IonQ job, circuit, measurement group); the answer lists shapes per
    # circuit.
    held = Counter((k, e.circuit, e.group) for k, job in enumerate(jobs) for e in job)
    costs = [
        CircuitCost(shape=circuits[c].shapes[g], executions=count, job=k)
        for (k, c, g), count in held.items()
    ]
    priced = estimate_cost(
        load_prices(), device.price_key, task.shots, costs, mitigated=mitigated == "debiasing"
    )
    return CostEstimate(
        seconds=priced.seconds,
        usd=priced.usd,
        circuits=shapes,
        breakdown={**priced.breakdown, **details},
    )


def _simulator_seconds(shape: dict[str, int]) -> float:
    gates = shape["gates_1q"] + shape["gates_2q"]
    return SIMULATOR_JOB_SECONDS + gates * 2.0 ** shape["qubits"] * SIMULATOR_AMPLITUDE_SECONDS
