"""The options IBM devices take, and what `use_mitigation` turns on, checked without the SDK.

Mitigation (`use_mitigation`, or an explicit `resilience_level`): the Estimator's resilience
level (default 1 with use_mitigation: TREX; 2 adds gate twirling and ZNE; 0 without); the Sampler
twirls its measurements and corrects readout errors with M3 from calibration PUBs in the same job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.ibm.catalogue import INSTANCE_OPTION, TOKEN_OPTION, hardware
from qorch.adapters.providers.pipeline.options import (
    MAX_SEED,
    Check,
    check_known,
    choice,
    flag,
    is_int,
    only_run,
    option_error,
    option_integer,
)
from qorch.domain.devices import Device

SUPPORTED_OPTIONS = (
    "resilience_level",
    "optimization_level",
    "seed_transpiler",
    "dynamical_decoupling",
    "twirling",
    "max_execution_time",
    "seed_simulator",
)
DEFAULT_OPTIMIZATION_LEVEL = 1
DEFAULT_SEED_TRANSPILER = 7
"""Fixed unless given: a re-submit (and a dry run) must lay circuits out like the run did."""
MITIGATED_RESILIENCE_LEVEL = 1


@dataclass(frozen=True)
class IbmOptions:
    resilience_level: int | None = None
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL
    seed_transpiler: int = DEFAULT_SEED_TRANSPILER
    seed_simulator: int | None = None
    dynamical_decoupling: dict[str, Any] | None = None
    twirling: dict[str, Any] | None = None
    max_execution_time: int | None = None


@dataclass(frozen=True)
class Mitigation:
    requested: bool
    resilience_level: int
    """The Estimator's resilience level."""
    readout: bool
    """Sampler: readout-error correction from calibration PUBs in the same job (M3)."""
    measure_twirling: bool
    """Sampler: twirl measurements (unless the twirling option says otherwise)."""


def _count_or_auto(value: Any) -> str | None:
    if value == "auto" or (is_int(value) and value >= 1):
        return None
    return 'expected a positive integer or "auto"'


_DD_FIELDS: dict[str, Check] = {
    "enable": flag(),
    "sequence_type": choice("XX", "XpXm", "XY4"),
    "extra_slack_distribution": choice("middle", "edges"),
    "scheduling_method": choice("alap", "asap"),
    "skip_reset_qubits": flag(),
}
"""`DynamicalDecouplingOptions` of qiskit-ibm-runtime 0.51 (checked without importing it)."""

_TWIRLING_FIELDS: dict[str, Check] = {
    "enable_gates": flag(optional=True),
    "enable_measure": flag(optional=True),
    "group": choice("pauli", "balanced_pauli", "local_c1", "local_pauli"),
    "num_randomizations": _count_or_auto,
    "shots_per_randomization": _count_or_auto,
    "strategy": choice("active", "active-accum", "active-circuit", "all"),
}
"""`TwirlingOptions` of qiskit-ibm-runtime 0.51."""


def check_run_type(run_type: str) -> None:
    only_run(
        run_type,
        "IBM devices",
        "an exact statevector needs a local simulator such as aer_simulator_statevector",
    )


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    """What a run would refuse, checked before the job is recorded (no SDK import)."""
    check_run_type(run_type)
    mitigation(parse_options(options, device), mitigate)


def parse_options(options: Mapping[str, Any], device: Device) -> IbmOptions:
    _, remote = hardware(device)
    if "default_shots" in options:
        raise option_error(
            "default_shots", "not accepted: the job's `shots` sets the shots", "unsupported_option"
        )
    # Credentials a caller left in the options are used by the client only.
    check_known(options, SUPPORTED_OPTIONS, "IBM devices", ignored=(TOKEN_OPTION, INSTANCE_OPTION))
    if remote and "seed_simulator" in options:
        raise option_error(
            "seed_simulator",
            f"only local testing mode devices take a simulator seed, not the QPU {device.id}",
            "unsupported_option",
        )
    level = option_integer(options, "optimization_level", 3)
    seed = option_integer(options, "seed_transpiler", MAX_SEED)
    return IbmOptions(
        resilience_level=option_integer(options, "resilience_level", 2),
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
        seed_transpiler=DEFAULT_SEED_TRANSPILER if seed is None else seed,
        seed_simulator=option_integer(options, "seed_simulator", MAX_SEED),
        dynamical_decoupling=_sub_options(
            "dynamical_decoupling", options.get("dynamical_decoupling"), _DD_FIELDS, "enable"
        ),
        twirling=_sub_options("twirling", options.get("twirling"), _TWIRLING_FIELDS, None),
        max_execution_time=option_integer(options, "max_execution_time", 10_800, low=1),
    )


def _sub_options(
    name: str, value: Any, fields: dict[str, Check], switch: str | None
) -> dict[str, Any] | None:
    """A bool (on/off) or a dict of the SDK's fields for dynamical_decoupling / twirling."""
    if value is None:
        return None
    if isinstance(value, bool):
        if switch is not None:
            return {switch: value}
        return {"enable_gates": value, "enable_measure": value}
    if not isinstance(value, dict):
        raise option_error(name, f"expected true, false or an object with {', '.join(fields)}")
    for key, item in value.items():
        if key not in fields:
            raise option_error(
                f"{name}.{key}", f"unknown field (known: {', '.join(fields)})", "unsupported_option"
            )
        problem = fields[key](item)
        if problem is not None:
            raise option_error(f"{name}.{key}", problem)
    return dict(value)


def mitigation(options: IbmOptions, mitigate: bool) -> Mitigation:
    if mitigate and options.resilience_level == 0:
        raise option_error(
            "resilience_level",
            "0 turns error mitigation off, but use_mitigation asks for it: drop one of them",
        )
    level = options.resilience_level
    if level is None:
        level = MITIGATED_RESILIENCE_LEVEL if mitigate else 0
    return Mitigation(
        requested=mitigate, resilience_level=level, readout=mitigate, measure_twirling=mitigate
    )
