"""The client-side primitives of qiskit-ibm-runtime 0.51, and our options in their terms.

`executor_sampler.Sampler` and `executor_estimator.Estimator` replace the deprecated
`SamplerV2`/`EstimatorV2`: they twirl, decouple and mitigate (TREX/ZNE/PEC) on the client, then
submit one `executor` program; a job retrieved later decodes back to a `PrimitiveResult`. The new
Sampler has no resilience options at all.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from qorch.adapters.providers.ibm.options import IbmOptions, Mitigation

NAMES = {
    "sampler": "qiskit_ibm_runtime.executor_sampler.Sampler",
    "estimator": "qiskit_ibm_runtime.executor_estimator.Estimator",
}


def primitive_options(
    kind: str,
    options: IbmOptions,
    mitigation: Mitigation,
    *,
    shots: int,
    job_tags: Sequence[str] = (),
    local: bool = False,
) -> Any:
    """The `SamplerOptions` / `EstimatorOptions` (qiskit_ibm_runtime.options_models) of a job."""
    from qiskit_ibm_runtime.options_models import EstimatorOptions, SamplerOptions

    values: dict[str, Any] = {"default_shots": shots}
    if options.dynamical_decoupling is not None:
        values["dynamical_decoupling"] = dict(options.dynamical_decoupling)
    twirling = dict(options.twirling or {})
    if kind == "sampler" and mitigation.measure_twirling:
        twirling.setdefault("enable_measure", True)
    if twirling:
        values["twirling"] = twirling
    if job_tags:
        values["environment"] = {"job_tags": list(job_tags)}
    if options.max_execution_time is not None:
        values["max_execution_time"] = options.max_execution_time
    if local and options.seed_simulator is not None:
        values["simulator"] = {"seed_simulator": options.seed_simulator}
    if kind == "sampler":
        return SamplerOptions(**values)
    if kind == "estimator":
        values["resilience_level"] = mitigation.resilience_level
        return EstimatorOptions(**values)
    raise ValueError(f"unknown primitive {kind!r}")


def applied(kind: str, options: Any) -> dict[str, Any]:
    """What a primitive's options turn on once finalized (for the result metadata)."""
    finalized = _finalized(kind, options)
    facts: dict[str, Any] = {
        "twirling": {
            "enable_gates": bool(finalized.twirling.enable_gates),
            "enable_measure": bool(finalized.twirling.enable_measure),
        },
        "dynamical_decoupling": finalized.dynamical_decoupling.enable
        and finalized.dynamical_decoupling.sequence_type,
    }
    if kind == "estimator":
        resilience = finalized.resilience
        facts["resilience_level"] = finalized.resilience_level
        facts["measure_mitigation"] = bool(resilience.measure_mitigation)
        facts["zne_mitigation"] = bool(resilience.zne_mitigation)
        facts["pec_mitigation"] = bool(resilience.pec_mitigation)
    return facts


def _finalized(kind: str, options: Any) -> Any:
    """The options as the primitive will apply them (resilience-level defaults resolved; e.g.
    measurement mitigation forces measurement twirling on, which the SDK only warns about)."""
    from qiskit_ibm_runtime.executor_estimator.finalize_options import (
        finalize_estimator_options,
    )
    from qiskit_ibm_runtime.executor_sampler.finalize_options import finalize_sampler_options

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "sampler":
            return finalize_sampler_options(options)
        return finalize_estimator_options(options)


def run(kind: str, mode: Any, options: Any, pubs: list[tuple[Any, ...]]) -> Any:
    """Starts the primitive on `mode` (a backend or a simulator); returns its job."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "sampler":
            from qiskit_ibm_runtime.executor_sampler import Sampler

            return Sampler(mode=mode, options=options).run(pubs)
        from qiskit_ibm_runtime.executor_estimator import Estimator

        return Estimator(mode=mode, options=options).run(pubs)


def warm_up() -> None:
    """Pays the SDK import (~1.5 s) in a fresh worker."""
    import qiskit_ibm_runtime.executor_estimator  # noqa: F401
    import qiskit_ibm_runtime.executor_sampler  # noqa: F401
    import qiskit_ibm_runtime.fake_provider  # noqa: F401
