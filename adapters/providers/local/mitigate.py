"""Mitigation on the noisy simulators: readout correction of the sampled circuits, zero-noise
extrapolation of the estimated ones (see `qorch.adapters.providers.pipeline.mitigation`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.local import client
from qorch.adapters.providers.pipeline.mitigation import (
    ReadoutReport,
    ZneSettings,
    correct_readout,
    extrapolate,
    folded_circuits,
    measured_qubits,
    with_shot_noise,
    zne_metadata,
)
from qorch.domain.execution import CircuitOutcome, ProviderError

if TYPE_CHECKING:
    from qorch.adapters.providers.local.plan import Plan


def mitigate_readout(
    plan: Plan, indices: list[int], outcomes: list[CircuitOutcome]
) -> dict[str, Any]:
    """Replaces the distributions by readout-mitigated ones; counts stay as measured."""
    report = ReadoutReport(circuits=[], skipped={}, qubits={})
    simulator = client.simulator(plan.executor_id)
    for i in indices:
        qubits = measured_qubits(plan.circuits[i].circuit)
        if isinstance(qubits, str):
            report.skipped[str(i)] = qubits
            continue
        counts = outcomes[i].counts
        assert counts is not None
        outcomes[i].distributions = correct_readout(
            simulator, plan.executor_id, qubits, counts, report
        )
        report.circuits.append(i)
        report.qubits[str(i)] = qubits
    return report.metadata()


def estimate_zne(
    plan: Plan,
    zne: ZneSettings,
    indices: list[int],
    precision: float,
    outcomes: list[CircuitOutcome],
) -> dict[str, Any]:
    """Zero-noise extrapolation: every scale factor of every circuit in one Estimator call,
    exact noisy values (precision 0) plus our own independent shot noise per scale factor."""
    # Level 0 on the same device: trivial layout on the physical qubits, nothing cancelled.
    translate = client.pass_manager_for(plan.executor_id, 0, None).run
    scales = len(zne.scale_factors)
    pubs: list[tuple[Any, ...]] = []
    for i in indices:
        prepared = plan.circuits[i]
        try:
            folded = folded_circuits(prepared.circuit, zne.scale_factors, translate)
        except ValueError as error:
            raise ProviderError(
                "unsupported_circuit", f"circuits[{i}]: zero-noise extrapolation: {error}"
            ) from error
        pubs.extend(client.estimator_pub(prepared, circuit) for circuit in folded)
    results = client.estimator(plan).run(pubs, precision=0.0).result()
    rng = np.random.default_rng(plan.options.seed_simulator)
    fallbacks = 0
    unfolded: dict[str, np.ndarray] = {}
    for n, i in enumerate(indices):
        prepared = plan.circuits[i]
        assert prepared.observables is not None
        exact = np.stack(
            [np.asarray(r.data.evs, dtype=float) for r in results[n * scales : (n + 1) * scales]]
        )
        bounds = np.array([float(np.abs(o.coeffs).sum()) for o in prepared.observables])
        measured = with_shot_noise(exact, precision, rng)
        values, errors, failed = extrapolate(zne, measured, precision, bounds)
        fallbacks += failed
        outcomes[i].expectation_values = values.tolist()
        outcomes[i].standard_errors = errors.tolist()
        if 1 in zne.scale_factors:
            unfolded[str(i)] = measured[zne.scale_factors.index(1)]
    metadata = zne_metadata(zne, indices, fallbacks)
    if unfolded:
        metadata["unmitigated"] = {
            i: values.reshape(len(values), -1).tolist() for i, values in unfolded.items()
        }
        metadata["unmitigated_standard_error"] = precision
        metadata["unmitigated_note"] = (
            "per circuit index, [observable][parameter_set]: the circuit at scale factor 1 (not"
            " folded), the very values the extrapolation used"
        )
    return metadata
